"""The API's contract and face: its OpenAPI document, documentation and demo page."""
