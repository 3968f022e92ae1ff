"""`make package`: vendor the compiled dependencies, then `chalice package` the stage.

The output folder holds what CloudFormation deploys: ``deployment.zip`` (the
function: app.py and chalicelib), ``layer-deployment.zip`` (Chalice's
automatic layer: requirements.txt and vendor/) and ``sam.json`` (the whole
stack, merged with ``resources.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stack.vendoring import PROJECT_DIR, WHEEL_CACHE, vendor

# `make package` warns when a zip comes within this of chalice deploy's
# direct-upload limit (MAX_LAMBDA_DEPLOYMENT_SIZE, 50 MiB).
WARN_MARGIN = 3 * 2**20
# Bytecode of local runs: never shipped (Lambda compiles what it imports).
# Test modules are not in chalicelib, and vendor/'s are slimmed away.
UNSHIPPED = ("__pycache__", "*.pyc", "*.pyo")


# What the app's SQS event source mappings must report (see merge_template and
# stack/deploy.py, which sets the same on what `chalice deploy` created).
SQS_FUNCTION_RESPONSE_TYPES = ("ReportBatchItemFailures",)


def function_name(app_name: str, stage: str, handler: str | None = None) -> str:
    """The name `chalice deploy` gives a stage's function: the API handler's
    without ``handler``, an event handler's with its name."""
    return f"{app_name}-{stage}" if handler is None else f"{app_name}-{stage}-{handler}"


def merge_template(project_dir: Path, stage: str, app: Any,
                   log_retention: bool = False) -> dict[str, Any]:
    """resources.json with the stage's resource names as parameter defaults.

    Chalice names an ``@app.on_sqs_message`` queue by name only, so CloudFormation
    cannot see that the handler's event source needs the queue: the handler's
    function gets a DependsOn on every queue of the template it reads from.
    """
    from chalice.app import SQSEventConfig
    from chalice.utils import to_cfn_resource_name

    from stack.policy import stage_environment
    from stack.template import load_template, stack_parameters

    template = load_template(project_dir)
    parameters = stack_parameters(template, stage_environment(stage, project_dir))
    for name, value in parameters.items():
        template["Parameters"][name]["Default"] = value
    queues = {parameters[resource["Properties"]["QueueName"]["Ref"]]: logical_id
              for logical_id, resource in template["Resources"].items()
              if resource["Type"] == "AWS::SQS::Queue"}
    if app.routes and log_retention:
        # Chalice 1.34 names the API handler's log group after "${ApiHandler}",
        # a resource that does not exist (the function is "APIHandler").
        template["Resources"]["ApiHandlerLogGroup"] = {"Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/lambda/${APIHandler}"}}}
    # The functions get the names `chalice deploy` gives them, which the
    # template's alarms and dashboard name: both deployment paths agree.
    if app.routes:
        _function(template, "APIHandler")["FunctionName"] = function_name(app.app_name, stage)
    for source in app.event_sources:
        logical_id = to_cfn_resource_name(source.name)
        _function(template, logical_id)["FunctionName"] = function_name(
            app.app_name, stage, source.name)
        if isinstance(source, SQSEventConfig):
            # Both queue handlers answer partial batch responses; Lambda reads
            # them only with this set (Chalice has no setting for it).
            _function(template, logical_id)["Events"] = {
                f"{logical_id}SqsEventSource": {"Properties": {
                    "FunctionResponseTypes": list(SQS_FUNCTION_RESPONSE_TYPES)}}}
            if source.queue in queues:
                function = template["Resources"][logical_id]
                function.setdefault("DependsOn", []).append(queues[source.queue])
    return template


def _function(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """The Properties that resources.json merges into one of Chalice's functions."""
    resource = template["Resources"].setdefault(logical_id, {})
    return resource.setdefault("Properties", {})


def chalice_executable() -> str:
    """The chalice CLI installed next to this interpreter."""
    return str(Path(sys.executable).with_name("chalice"))


def chalice_package(project_dir: Path, out_dir: Path, stage: str) -> None:
    """Run ``chalice package`` with the stage's merge template; raises CalledProcessError."""
    from stack.run import stage_config

    config = stage_config(stage, {}, project_dir)
    app = config.chalice_app
    merged = project_dir / "build" / f"merge-template-{stage}.json"
    merged.parent.mkdir(parents=True, exist_ok=True)
    merged.write_text(json.dumps(merge_template(
        project_dir, stage, app, log_retention=bool(config.log_retention_in_days)), indent=2))
    if out_dir.exists():
        shutil.rmtree(out_dir)  # no stale file of an older build may survive
    remove_unshipped(project_dir)
    subprocess.run([chalice_executable(), "--project-dir", str(project_dir), "package",
                    "--stage", stage, "--merge-template", str(merged), str(out_dir)],
                   check=True, cwd=project_dir, env=chalice_environment(os.environ))


def chalice_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The environment to run the chalice CLI in, for package and deploy alike."""
    # chalice package wants a region although the template it writes uses
    # ${AWS::Region}; the deploying account's region applies at deploy time.
    # Chalice imports app.py to read its routes: without this the import
    # itself would write the __pycache__ folders Chalice then zips.
    return {"AWS_DEFAULT_REGION": "us-east-1", **environment,
            "PYTHONDONTWRITEBYTECODE": "1"}


def remove_unshipped(project_dir: Path) -> list[Path]:
    """Delete what must not be zipped from the folders Chalice zips whole; returns it.

    Chalice adds every file under chalicelib/ and vendor/ to the zips, caches
    of local runs and stray test files included.
    """
    removed = []
    for folder in ("chalicelib", "vendor"):
        root = project_dir / folder
        if not root.is_dir():
            continue
        for pattern in UNSHIPPED:
            for path in sorted(root.rglob(pattern), reverse=True):
                if path.is_dir():
                    shutil.rmtree(path)
                    removed.append(path)
                elif path.exists():
                    path.unlink()
                    removed.append(path)
    return removed


def size_warnings(out_dir: Path) -> list[str]:
    """A warning for each zip within WARN_MARGIN of Chalice's direct-upload limit."""
    from chalice.constants import MAX_LAMBDA_DEPLOYMENT_SIZE as limit

    warnings = []
    for path in sorted(out_dir.glob("*.zip")):
        size = path.stat().st_size
        if size > limit - WARN_MARGIN:
            warnings.append(
                f"warning: {path.name} is {size / 2**20:.1f} MiB, within "
                f"{WARN_MARGIN // 2**20} MiB of chalice deploy's {limit / 2**20:.0f} MiB "
                f"limit ({(limit - size) / 2**20:.1f} MiB left); deploy through "
                "CloudFormation (make package + aws cloudformation deploy) if it grows")
    return warnings


def build_package(project_dir: Path = PROJECT_DIR, out_dir: Path | None = None,
                  stage: str = "prod", cache: Path = WHEEL_CACHE,
                  vendoring: bool = True) -> Path:
    """Vendor, slim and package ``stage`` into ``out_dir``; returns ``out_dir``.

    Without ``vendoring``, vendor/ is packaged as it is (template checks).
    """
    out_dir = out_dir or project_dir / "build" / "package"
    if vendoring:
        report = vendor(project_dir, cache)
        print(f"vendor/: removed {report.removed_bytes / 2**20:.1f} MiB in "
              f"{report.removed_files} files, stripped "
              f"{report.stripped_bytes / 2**20:.1f} MiB", flush=True)
    chalice_package(project_dir, out_dir, stage)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m stack package", description=__doc__)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--wheel-cache", type=Path, default=WHEEL_CACHE)
    parser.add_argument("--no-vendor", action="store_true",
                        help="package vendor/ as it is (no download, no slimming)")
    args = parser.parse_args(argv)
    out_dir = build_package(args.project_dir.resolve(), args.out, args.stage,
                            args.wheel_cache, vendoring=not args.no_vendor)
    for path in sorted(out_dir.iterdir()):
        print(f"  {path}  {path.stat().st_size / 2**20:.1f} MiB")
    for warning in size_warnings(out_dir):
        print(warning, file=sys.stderr)
    return 0
