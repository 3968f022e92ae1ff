"""The package `make package` builds fits Lambda and works in a bare interpreter."""

from __future__ import annotations

import ast
import base64
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from chalice.constants import MAX_LAMBDA_DEPLOYMENT_SIZE
from PIL import Image

from stack.policy import stage_environment
from stack.vendoring import DROPPED_SCIPY_MODULES, DROPPED_SCIPY_SUBPACKAGES, elf_files
from tests.support.events import api_event

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"

# Lambda: function plus layers at most 250 MB unzipped (262,144,000 bytes).
MAX_UNZIPPED_BYTES = 262_144_000
# Amazon Linux 2023 (the python3.12/3.13 runtimes): glibc 2.34, GCC 11's libstdc++.
MAX_VERSIONS = {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)}

# Every route family, served through the Lambda entry point of the unpacked
# package: (method, path, headers, body, expected status, expected JSON subset).
ROUTE_PROBES = [
    ("GET", "/health", {}, b"", 200, {"status": "ok", "stage": "prod"}),
    ("GET", "/stats?numbers=5&numbers=6", {}, b"", 200,
     {"nobs": 2, "mean": 5.5, "variance": 0.5}),
    ("POST", "/stats", {"Content-Type": "application/json"},
     b'{"numbers": [1, 2, 3, 4], "ddof": 0}', 200, {"nobs": 4, "mean": 2.5,
                                                    "variance": 1.25}),
    ("GET", "/stats?numbers=abc", {}, b"", 400, {"code": "InvalidInput"}),
    ("POST", "/predict?top_k=1", {"Content-Type": "image/png"}, "PNG_IMAGE", 200,
     {"source": "body", "width": 8, "height": 8}),
    ("POST", "/object_detection", {"Content-Type": "image/png"}, "PNG_IMAGE", 200,
     {"source": "body", "predictions": []}),
    ("GET", "/api/users", {}, b"", 200, {"items": [], "next_cursor": None}),
    ("GET", "/api/nope", {}, b"", 404, {"code": "UnknownResource"}),
    ("POST", "/blobs", {"Content-Type": "application/json"}, b'{"content_type": "image/png"}',
     201, {"status": "pending", "method": "PUT"}),
    ("GET", "/hello", {}, b"", 200, {"message": "Hello, World"}),
]
# Lambda's python runtime puts its own boto3 (and botocore's dependencies) on
# sys.path after the function and its layers; the package does not ship them.
LAMBDA_RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six")

# Runs in the package's own interpreter: only the unpacked tree and the
# standard library are importable (-I -S; the paths Lambda puts first).
HARNESS = r"""
import ctypes, json, os, sys
task, site_packages, opt_python, runtime, probe = sys.argv[1:6]
sys.path[:0] = [path for path in (task, site_packages, opt_python, runtime) if path]
request = json.load(sys.stdin)
os.environ.update(request["environment"])
outcome = {"sys_path": sys.path, "responses": []}
from app import app
for event in request["events"]:
    response = app(event, None)
    outcome["responses"].append({"status": response["statusCode"],
                                 "body": response["body"]})
if probe == "libraries":
    import numpy, scipy.stats, PIL.Image, PIL.features, onnxruntime, io, base64
    session = onnxruntime.InferenceSession(
        os.path.join(site_packages, "onnxruntime", "datasets", "mul_1.onnx"),
        providers=["CPUExecutionProvider"])
    x = numpy.arange(6, dtype=numpy.float32).reshape(3, 2)
    outcome["onnx"] = session.run(None, {session.get_inputs()[0].name: x})[0].tolist()
    outcome["images"] = {}
    for name, data in request["images"].items():
        with PIL.Image.open(io.BytesIO(base64.b64decode(data))) as image:
            image.load()
            outcome["images"][name] = [image.format, list(image.size)]
    # every ELF file loads (numpy first, as every user of scipy's libraries does)
    failures = {}
    for path in request["elf_files"]:
        try:
            ctypes.CDLL(path)
        except OSError as error:
            failures[path] = str(error)
    outcome["elf_failures"] = failures
print(json.dumps(outcome))
"""


@pytest.fixture(scope="module")
def prod_environment(emulator) -> dict[str, str]:
    """The prod stage's environment, its resources provisioned in the emulator."""
    from stack.run import MODEL_VARIABLES, local_environment, provision_local

    # The prod stage's own models (in its bucket), whatever this session's shell names.
    local = {name: value for name, value in local_environment(emulator.endpoint_url).items()
             if name not in MODEL_VARIABLES}
    environment = {**stage_environment("prod"), **local}
    provision_local(environment)
    _publish_default_models(environment, emulator.endpoint_url)
    return environment


def _publish_default_models(environment: dict[str, str], endpoint_url: str) -> None:
    """The prod models live in the stage's model bucket, as the deploy leaves them."""
    import boto3

    from stack.model_upload import upload_models

    s3 = boto3.client("s3", endpoint_url=endpoint_url)
    variables = upload_models(s3, environment["MODEL_BUCKET"], MODELS_DIR)
    assert variables == {name: environment[name]
                         for name in ("CLASSIFIER_MODEL", "DETECTOR_MODEL")}


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory) -> Path:
    """A stand-in for the runtime's /var/runtime: boto3 and its dependencies."""
    import importlib.util

    runtime = tmp_path_factory.mktemp("var-runtime")
    for name in LAMBDA_RUNTIME_MODULES:
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def run_in_package(package, events, environment, probe="routes", extra=None,
                   runtime: Path | None = None):
    request = {"environment": environment, "events": events, **(extra or {})}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", HARNESS, str(package.task_root),
         str(package.site_packages), str(package.opt_root / "python"), str(runtime or ""),
         probe],
        input=json.dumps(request), capture_output=True, text=True, cwd=package.task_root,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, timeout=120)
    assert result.returncode == 0, result.stderr
    # The app's log lines (stdout is Lambda's log) come before the harness's answer.
    outcome = json.loads(result.stdout.splitlines()[-1])
    outcome["log"] = result.stdout
    return outcome


def test_each_zip_fits_chalice_deploy_and_the_whole_fits_lambda(lambda_package):
    zipped = {path.name: path.stat().st_size
              for path in (lambda_package.function_zip, lambda_package.layer_zip)}
    unzipped = sum(info.file_size for path in (lambda_package.function_zip,
                                               lambda_package.layer_zip)
                   for info in zipfile.ZipFile(path).infolist())
    print(f"\nzipped: {zipped}, unzipped total: {unzipped}")
    assert all(size <= MAX_LAMBDA_DEPLOYMENT_SIZE for size in zipped.values()), zipped
    assert unzipped <= MAX_UNZIPPED_BYTES


def test_the_layer_keeps_3_mib_of_headroom_under_chalice_deploys_limit(lambda_package):
    assert lambda_package.layer_zip.stat().st_size <= MAX_LAMBDA_DEPLOYMENT_SIZE - 3 * 2**20


def test_the_zips_hold_no_bytecode_tests_or_models(lambda_package):
    # The project copy was compiled, as local runs leave it, before packaging.
    assert list(lambda_package.project_dir.glob("chalicelib/**/__pycache__")) == []
    names = [name for path in (lambda_package.function_zip, lambda_package.layer_zip)
             for name in zipfile.ZipFile(path).namelist()]
    assert len(names) > 1000
    offenders = [name for name in names if "__pycache__/" in name
                 or name.endswith((".pyc", ".pyo", "/conftest.py"))
                 or re.search(r"(^|/)test_[^/]*\.py$", name)
                 or name.startswith(("models/", "tests/"))]
    assert offenders == []
    # models/ goes to the model bucket; only onnxruntime's own example ships.
    site_packages = lambda_package.site_packages.relative_to(lambda_package.opt_root)
    models = [name for name in names if name.endswith(".onnx")]
    assert all(name.startswith(f"{site_packages.as_posix()}/onnxruntime/datasets/")
               for name in models), models


def test_boto3_and_the_dropped_dependencies_stay_out_of_the_package(lambda_package):
    top_level = {path.name for path in lambda_package.site_packages.iterdir()}
    top_level |= {path.name for path in lambda_package.task_root.iterdir()}
    assert {"numpy", "scipy", "PIL", "onnxruntime", "python_multipart"} <= top_level
    assert not top_level & {"boto3", "botocore", "sympy", "mpmath", "coloredlogs",
                            "google", "flatbuffers", "packaging", "s3transfer"}


def test_function_zip_holds_the_app_and_the_layer_the_dependencies(lambda_package):
    names = zipfile.ZipFile(lambda_package.function_zip).namelist()
    assert "app.py" in names and "chalicelib/stats.py" in names
    assert not any(name.startswith(("numpy/", "scipy/")) for name in names)


def test_no_model_is_inside_the_zips(lambda_package):
    names = [name for path in (lambda_package.function_zip, lambda_package.layer_zip)
             for name in zipfile.ZipFile(path).namelist()]
    assert not [name for name in names
                if name.startswith(("models/", "modelbuild/")) or name.endswith(".pth")
                or (name.endswith(".onnx") and "onnxruntime/" not in name)]


@pytest.mark.parametrize("method, path, headers, body, status, expected", ROUTE_PROBES,
                         ids=[f"{probe[0]} {probe[1]}" for probe in ROUTE_PROBES])
def test_unpacked_package_serves_the_route_through_the_lambda_entry_point(
        lambda_package, lambda_runtime, prod_environment, method, path, headers, body, status,
        expected):
    from app import app

    if body == "PNG_IMAGE":
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (0, 0, 0)).save(buffer, format="PNG")
        event = api_event(app, method, path, headers=headers, body=buffer.getvalue(),
                          base64_body=True)
    else:
        event = api_event(app, method, path, headers=headers, body=body)
    outcome = run_in_package(lambda_package, [event], prod_environment, runtime=lambda_runtime)
    tree = (str(lambda_package.task_root), str(lambda_package.opt_root), str(lambda_runtime))
    outside = [entry for entry in outcome["sys_path"] if not entry.startswith(tree) and not (
        entry.startswith(sys.base_prefix) and "site-packages" not in entry)]
    assert outside == []  # only the package and the standard library
    response = outcome["responses"][0]
    assert response["status"] == status, (response["body"], outcome["log"][-3000:])
    answer = json.loads(response["body"])
    assert (answer[0] if isinstance(answer, list) else answer).items() >= expected.items()


def test_compiled_libraries_work_in_the_unpacked_package(lambda_package, prod_environment):
    images = {}
    for image_format in ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"):
        buffer = io.BytesIO()
        Image.new("RGB", (7, 5), (200, 30, 60)).save(buffer, image_format)
        images[image_format] = base64.b64encode(buffer.getvalue()).decode()
    outcome = run_in_package(lambda_package, [], prod_environment, probe="libraries", extra={
        "images": images,
        "elf_files": [str(path) for path in elf_files(lambda_package.site_packages)]})
    assert outcome["onnx"] == _reference_inference()
    assert outcome["images"] == {name: [name, [7, 5]] for name in images}
    assert outcome["elf_failures"] == {}


def _reference_inference() -> list:
    """mul_1.onnx run by the development install (the same pinned onnxruntime)."""
    import numpy as np
    import onnxruntime
    from onnxruntime import datasets

    session = onnxruntime.InferenceSession(datasets.get_example("mul_1.onnx"),
                                           providers=["CPUExecutionProvider"])
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    return session.run(None, {session.get_inputs()[0].name: x})[0].tolist()


def test_every_elf_file_needs_at_most_the_runtime_glibc(lambda_package):
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    too_new = {}
    files = elf_files(lambda_package.task_root) + elf_files(lambda_package.opt_root)
    for path in files:
        with path.open("rb") as stream:
            for section in ELFFile(stream).iter_sections():
                if not isinstance(section, GNUVerNeedSection):
                    continue
                for _, auxiliaries in section.iter_versions():
                    for auxiliary in auxiliaries:
                        version = _version(auxiliary.name)
                        if version and version[1] > MAX_VERSIONS[version[0]]:
                            too_new.setdefault(str(path), []).append(auxiliary.name)
    assert len(files) > 50
    assert too_new == {}


def _version(name: str) -> tuple[str, tuple[int, ...]] | None:
    match = re.fullmatch(r"(GLIBC|GLIBCXX|CXXABI)_(\d+(?:\.\d+)*)", name)
    if match is None:
        return None
    return match.group(1), tuple(int(part) for part in match.group(2).split("."))


def test_version_parsing_compares_numerically():
    assert _version("GLIBC_2.9") == ("GLIBC", (2, 9))
    assert _version("GLIBC_2.9")[1] < MAX_VERSIONS["GLIBC"] < _version("GLIBC_2.35")[1]
    assert _version("GLIBC_PRIVATE") is None


def test_no_shipped_module_imports_a_dropped_scipy_subpackage(lambda_package):
    scipy_dir = lambda_package.site_packages / "scipy"
    dropped = [*DROPPED_SCIPY_SUBPACKAGES, *(name.replace(".", r"\.")
                                            for name in DROPPED_SCIPY_MODULES)]
    pattern = re.compile(r"scipy\.(" + "|".join(dropped) + r")\b")
    offenders = []
    for path in scipy_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_bytes())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = _absolute_module(path, scipy_dir.parent, node)
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            offenders += [(str(path), name) for name in names if pattern.match(name)]
    # Compiled modules name what they import as a C string of its own (their
    # docstrings' ">>> from scipy.signal import ..." examples do not count).
    module_name = re.compile(rb"\x00(scipy\.(?:" + "|".join(
        dropped).encode() + rb")(?:\.[\w.]+)?)\x00")
    for path in scipy_dir.rglob("*.so"):
        offenders += [(str(path), found.decode()) for found in
                      module_name.findall(path.read_bytes())]
    assert offenders == []
    assert not any((scipy_dir / name).exists() for name in DROPPED_SCIPY_SUBPACKAGES)


def _absolute_module(path: Path, root: Path, node: ast.ImportFrom) -> str:
    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    if node.level > 1:
        package = package[:-(node.level - 1)]
    if not node.level:
        return node.module or ""
    base = ".".join(package)
    return f"{base}.{node.module}" if node.module else base


def test_pillow_reports_the_dropped_codecs_unsupported_rather_than_failing(lambda_package):
    code = ("import sys; sys.path[:0] = [sys.argv[1]]; from PIL import features, Image; "
            "Image.init(); print(features.check('avif'), features.check('freetype2'), "
            "features.check('littlecms2'), features.check('webp'), features.check('jpg'))")
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code,
                             str(lambda_package.site_packages)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False", "False", "True", "True"]

