"""Local tooling: the embedded AWS emulator, resource provisioning, packaging and
the local API server.  Never packaged into Lambda (Chalice ships only app.py,
chalicelib/ and vendor/).

    python -m stack [run|emulator]        the local stack (stack.run)
    python -m stack check --stage S       the stage's settings, checked (nothing created)
    python -m stack provision --stage S   the stage's resources stack (resources.json)
    python -m stack deploy --stage S      resources stack, models, chalice deploy
    python -m stack upload-models --stage S   models/ to the stage's model bucket
    python -m stack vendor                fill vendor/ for the Lambda runtime
    python -m stack package               vendor/ + chalice package (build/package)
    python -m stack policy                write .chalice/policy-<stage>.json
    python -m stack check-model M [IMG..] load a model manifest as the app does
    python -m stack upload-model M        copy a model into the emulator's model bucket
"""
import importlib
import sys

COMMANDS = {"check": "stack.template", "provision": "stack.provision", "deploy": "stack.deploy",
            "upload-models": "stack.model_upload", "vendor": "stack.vendoring",
            "package": "stack.package", "policy": "stack.policy",
            "check-model": "stack.check_model", "upload-model": "stack.upload_model"}

if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
    sys.exit(importlib.import_module(COMMANDS[sys.argv[1]]).main(sys.argv[2:]))

from stack.run import main  # noqa: E402

sys.exit(main())
