"""Local tooling: the embedded AWS emulator, resource provisioning, packaging and
the local API server.  Never packaged into Lambda (Chalice ships only app.py,
chalicelib/ and vendor/).

    python -m stack [run|emulator]        the local stack (stack.run)
    python -m stack provision --stage S   create the stage's resources in AWS
    python -m stack vendor                fill vendor/ for the Lambda runtime
    python -m stack package               vendor/ + chalice package (build/package)
    python -m stack policy                write .chalice/policy-<stage>.json
    python -m stack check-model M [IMG..] load a model manifest as the app does
    python -m stack upload-model M        copy a model into the emulator's model bucket
"""
import importlib
import sys

COMMANDS = {"provision": "stack.provision", "vendor": "stack.vendoring",
            "package": "stack.package", "policy": "stack.policy",
            "check-model": "stack.check_model", "upload-model": "stack.upload_model"}

if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
    sys.exit(importlib.import_module(COMMANDS[sys.argv[1]]).main(sys.argv[2:]))

from stack.run import main  # noqa: E402

sys.exit(main())
