"""Generic CRUD over named resources, each held by a configured storage backend.

``crud`` is what the routes call; ``contract`` is the backend Protocol that
``memory`` and ``dynamodb`` implement; ``items`` and ``query`` validate input.
"""
