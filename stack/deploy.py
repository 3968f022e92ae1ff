"""`make deploy STAGE=prod`: resources with CloudFormation, then `chalice deploy`.

The steps, in order (the Chalice workshop's pattern):

1. vendor/ for the Lambda runtime (as `make package` does);
2. the stage's resources stack from resources.json (stack/provision.py);
3. the models in ``models/`` uploaded to the stack's model bucket;
4. the stack's outputs recorded into the stage's environment in
   ``.chalice/config.json``, and the stage pointed at the uploaded models
   (CLASSIFIER_MODEL, DETECTOR_MODEL);
5. ``.chalice/policy-<stage>.json`` regenerated for the recorded names;
6. ``chalice deploy --stage <stage>``: role, layer, functions, API;
7. the SQS event source mappings Chalice created set to report partial batch
   failures (Chalice cannot; without it Lambda deletes the messages the
   handlers name for retry).

Against the local emulator (AWS_ENDPOINT_URL set) every step runs; moto
5.2.5 then stops `chalice deploy` at ImportRestApi (see docs/deploying.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stack.model_upload import upload_models
from stack.template import PROJECT_DIR, load_template, recorded_environment


def record_stage_environment(project_dir: Path, stage: str, changes: Mapping[str, str]
                             ) -> None:
    """Write ``changes`` into the stage's environment_variables in .chalice/config.json."""
    if not changes:
        return
    path = project_dir / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    config["stages"][stage].setdefault("environment_variables", {}).update(changes)
    path.write_text(json.dumps(config, indent=2) + "\n")


def deploy(stage: str, project_dir: Path, session: Any, models_dir: Path,
           vendoring: bool = True) -> int:
    """Run the steps of the module's docstring; returns chalice deploy's exit code."""
    from stack.package import chalice_environment, chalice_executable, remove_unshipped
    from stack.policy import stage_environment, write_policy
    from stack.provision import provision_stage
    from stack.vendoring import vendor

    if vendoring:
        vendor(project_dir)
        _say("1. vendor/ filled and slimmed")
    environment = stage_environment(stage, project_dir)
    # Only the local emulator is reached through AWS_ENDPOINT_URL here (a
    # deployed stage never sets it: tests/unit/test_deploy_config.py).
    emulated = bool(os.environ.get("AWS_ENDPOINT_URL"))
    outputs = provision_stage(session, stage, environment, project_dir, emulated=emulated)
    _say(f"2. resources stack: {outputs}")
    changes = recorded_environment(load_template(project_dir), outputs, environment)
    models = upload_models(session.client("s3"), outputs["ModelBucketName"], models_dir)
    _say(f"3. models uploaded: {models or 'none in ' + str(models_dir)}")
    changes.update({name: value for name, value in models.items()
                    if environment.get(name) != value})
    record_stage_environment(project_dir, stage, changes)
    _say(f"4. recorded into .chalice/config.json ({stage}): {changes or 'no change'}")
    _say(f"5. policy: {write_policy(stage, project_dir)}")
    remove_unshipped(project_dir)
    _say(f"6. chalice deploy --stage {stage}")
    returncode = subprocess.run([chalice_executable(), "--project-dir", str(project_dir),
                                 "deploy", "--stage", stage], cwd=project_dir,
                                env=chalice_environment(os.environ)).returncode
    if returncode == 0:
        updated = report_batch_item_failures(session.client("lambda"), project_dir, stage)
        _say(f"7. partial batch responses on: {updated or 'no queue handler'}")
    return returncode


def report_batch_item_failures(lambda_client: Any, project_dir: Path, stage: str
                               ) -> list[str]:
    """Set FunctionResponseTypes on the event source mappings of the app's queue
    handlers, as the packaged template does; returns their UUIDs."""
    from chalice.app import SQSEventConfig

    from stack.package import SQS_FUNCTION_RESPONSE_TYPES, function_name
    from stack.run import stage_config

    app = stage_config(stage, {}, project_dir).chalice_app
    updated = []
    for source in app.event_sources:
        if not isinstance(source, SQSEventConfig):
            continue
        paginator = lambda_client.get_paginator("list_event_source_mappings")
        for page in paginator.paginate(FunctionName=function_name(app.app_name, stage,
                                                                  source.name)):
            for mapping in page["EventSourceMappings"]:
                if set(SQS_FUNCTION_RESPONSE_TYPES) - set(
                        mapping.get("FunctionResponseTypes") or ()):
                    lambda_client.update_event_source_mapping(
                        UUID=mapping["UUID"],
                        FunctionResponseTypes=list(SQS_FUNCTION_RESPONSE_TYPES))
                updated.append(mapping["UUID"])
    return updated


def _say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m stack deploy --stage prod`` (``make deploy STAGE=prod``)."""
    import argparse

    import boto3

    parser = argparse.ArgumentParser(prog="python -m stack deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--models", type=Path, default=None,
                        help="folder of manifests and .onnx files (default: models/)")
    parser.add_argument("--no-vendor", action="store_true",
                        help="deploy vendor/ as it is (already filled by make package)")
    args = parser.parse_args(argv)
    project_dir = args.project_dir.resolve()
    sys.path.insert(0, str(project_dir))
    return deploy(args.stage, project_dir, boto3.session.Session(),
                  args.models or project_dir / "models", vendoring=not args.no_vendor)
