"""Upload ``models/`` to a stage's model bucket (step 3 of ``make deploy``).

After ``make package`` + ``aws cloudformation deploy`` the model bucket is
empty; ``python -m stack upload-models --stage prod`` fills it from
``models/`` (``make models``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stack.template import PROJECT_DIR

# The manifests `make models` writes, and the variable each one configures.
MODEL_VARIABLES = {"classifier.json": "CLASSIFIER_MODEL", "detector.json": "DETECTOR_MODEL"}


def upload_models(s3: Any, bucket: str, models_dir: Path) -> dict[str, str]:
    """Upload the manifests and model files at the top of ``models_dir``.

    Returns the stage variables that point at the uploaded manifests (none
    when ``models_dir`` holds none: the stage keeps its packaged models).
    """
    variables = {}
    if not models_dir.is_dir():
        return variables
    for path in sorted(models_dir.iterdir()):
        if path.is_file() and path.suffix in (".json", ".onnx"):
            s3.upload_file(str(path), bucket, path.name)
            if path.name in MODEL_VARIABLES:
                variables[MODEL_VARIABLES[path.name]] = f"s3://{bucket}/{path.name}"
    return variables


def main(argv: list[str] | None = None) -> int:
    """``python -m stack upload-models --stage prod``."""
    import argparse

    import boto3

    from stack.policy import stage_environment

    parser = argparse.ArgumentParser(prog="python -m stack upload-models",
                                     description=__doc__)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--models", type=Path, default=None,
                        help="folder of manifests and .onnx files (default: models/)")
    args = parser.parse_args(argv)
    bucket = stage_environment(args.stage, args.project_dir)["MODEL_BUCKET"]
    variables = upload_models(boto3.session.Session().client("s3"), bucket,
                              args.models or args.project_dir / "models")
    for name, value in variables.items():
        print(f"{name}={value}")
    return 0
