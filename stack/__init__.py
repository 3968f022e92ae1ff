"""Local tooling: the embedded AWS emulator, resource provisioning and the
local API server.  Never packaged into Lambda (Chalice ships only app.py,
chalicelib/ and vendor/)."""
