"""The Lambda package as `make package` builds it, and as Lambda lays it out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION

PROJECT_DIR = Path(__file__).resolve().parents[2]
# What a fresh clone holds that the package is built from.
PROJECT_FILES = ("app.py", "chalicelib", ".chalice/config.json", ".chalice/policy-prod.json",
                 "requirements.txt", "requirements-vendor.txt", "resources.json",
                 "vendor/README.md")


@dataclass
class LambdaPackage:
    project_dir: Path
    out_dir: Path
    task_root: Path   # /var/task: the function zip
    opt_root: Path    # /opt: the layer zip

    @property
    def function_zip(self) -> Path:
        return self.out_dir / "deployment.zip"

    @property
    def layer_zip(self) -> Path:
        return self.out_dir / "layer-deployment.zip"

    @property
    def template(self) -> Path:
        return self.out_dir / "sam.json"

    @property
    def site_packages(self) -> Path:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        return self.opt_root / "python" / "lib" / version / "site-packages"


def copy_project(destination: Path, extra_app_code: str = "") -> Path:
    """A clean copy of the committed project files (``extra_app_code`` appended to app.py)."""
    for name in PROJECT_FILES:
        source = PROJECT_DIR / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    if extra_app_code:
        with (destination / "app.py").open("a") as app_file:
            app_file.write(extra_app_code)
    # As after local runs: bytecode caches beside the sources (never to be zipped).
    subprocess.run([sys.executable, "-m", "compileall", "-q", "chalicelib", "app.py"],
                   cwd=destination, check=True)
    return destination


def build(project_dir: Path, out_dir: Path, vendor: bool = True) -> None:
    """Run what `make package` runs (or only `chalice package`, without vendoring)."""
    options = [] if vendor else ["--no-vendor"]
    subprocess.run([sys.executable, "-m", "stack", "package", "--project-dir",
                    str(project_dir), "--out", str(out_dir), *options],
                   cwd=PROJECT_DIR, check=True, capture_output=True, text=True)


def unpack(package_zip: Path, destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(package_zip) as archive:
        archive.extractall(destination)
    return destination


@pytest.fixture(scope="session")
def lambda_package(tmp_path_factory: pytest.TempPathFactory) -> LambdaPackage:
    """`make package` on a clean copy of the project, unpacked as Lambda would."""
    root = tmp_path_factory.mktemp("lambda")
    project_dir = copy_project(root / "project")
    out_dir = root / "package"
    try:
        build(project_dir, out_dir)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"make package failed:\n{error.stdout}\n{error.stderr}")
    package = LambdaPackage(project_dir, out_dir, root / "var" / "task", root / "opt")
    unpack(package.function_zip, package.task_root)
    unpack(package.layer_zip, package.opt_root)
    return package


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """This process's environment with AWS pointed at the emulator only."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("AWS_")}
    return {**environment, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ENDPOINT_URL": endpoint_url}


# What `make models` leaves in models/ (make test builds it first): manifests
# named after their task, each beside its .onnx file.
BUILT_MODELS = PROJECT_DIR / "models"
MODEL_FILES = ("classifier.json", "classifier.onnx", "detector.json", "detector.onnx")


def stand_in_models(models: Path) -> Path:
    """A models/ folder as `make models` leaves it (its models, one stray photo)."""
    models.mkdir(exist_ok=True)
    for name in MODEL_FILES:
        shutil.copy2(BUILT_MODELS / name, models / name)
    (models / "photos").mkdir(exist_ok=True)
    (models / "photos" / "not-a-model.jpg").write_bytes(b"\xff\xd8")
    return models


@pytest.fixture(scope="session")
def deployed(lambda_package, emulator) -> subprocess.CompletedProcess:
    """`make deploy STAGE=prod` against the emulator, from the packaged project copy."""
    stand_in_models(lambda_package.project_dir / "models")
    return subprocess.run([sys.executable, "-m", "stack", "deploy", "--stage", "prod",
                           "--project-dir", str(lambda_package.project_dir), "--no-vendor"],
                          cwd=PROJECT_DIR, env=aws_environment(emulator.endpoint_url),
                          capture_output=True, text=True, timeout=600)
