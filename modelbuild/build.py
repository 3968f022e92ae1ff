"""``make models``: fetch the pinned packages, convert, check, and fill ``models/`` from a cache.

The finished set of files is cached under
``~/.cache/chalice-reference/models/<key>`` (``$XDG_CACHE_HOME`` is honoured),
where the key is a hash of every pin and of this package's own files: a
second clone on the same machine copies the cached set without fetching or
converting anything, and changing a pin or the converter builds a new set.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from modelbuild import classifier, photos, sources
from modelbuild.labels import imagenet_labels

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
DEFAULT_OUT = PROJECT_ROOT / "models"
STAMP = "BUILD.json"


class PhotoCheckFailed(AssertionError):
    """A converted model does not see in a real photo what it must."""


def cache_root() -> Path:
    """Where fetched packages and finished model sets are kept, outside any clone."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chalice-reference"


def cache_key() -> str:
    """A hash of the pins and of every file of this package (code, manifests, licence texts)."""
    digest = hashlib.sha256(sources.pins_document().encode("utf-8"))
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode("utf-8"))
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(out: Path = DEFAULT_OUT, root: Path | None = None) -> Path:
    """Fill ``out`` with the default models, photos and licences; returns ``out``.

    Raises SourceError, ConversionMismatch or PhotoCheckFailed (nothing is
    cached or written then).
    """
    root = root or cache_root()
    key = cache_key()
    ready = root / "models" / key
    if not (ready / STAMP).is_file():
        ready.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{key}-", dir=ready.parent) as scratch:
            staging = Path(scratch) / "set"
            _build_into(staging, root / "packages", key)
            staging.rename(ready)
    else:
        _say(f"models {key} are cached in {ready}")
    _install(ready, out, key)
    return out


def _build_into(staging: Path, packages: Path, key: str) -> None:
    from modelbuild.nanodet import convert_nanodet

    folders = {package.name: sources.obtain(package, packages) for package in sources.PACKAGES}
    darknet = folders[sources.DARKNET.name]
    _write_photos(staging / "photos", folders)
    check_photos = [staging / "photos" / name for name in ("chelsea.jpg", "dog.jpg")]
    seeded = np.random.default_rng(12).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    check_inputs = np.concatenate([np.stack([classifier.preprocess(path)
                                             for path in check_photos]), seeded])
    _say("converting EfficientNet-Lite0 and checking it against the numpy reference")
    report = classifier.convert_classifier(folders[sources.EFFICIENTNET.name],
                                           imagenet_labels(darknet), staging, check_inputs)
    _say("converting NanoDet-m")
    human = folders[sources.HUMAN_MODELS.name]
    convert_nanodet(human / "package/models/nanodet.json", staging / "detector.onnx")
    shutil.copyfile(PACKAGE_DIR / "detector.json", staging / "detector.json")
    _check_classifier_on_photos(staging)
    shutil.copyfile(PACKAGE_DIR / "NOTICE", staging / "NOTICE")
    shutil.copytree(PACKAGE_DIR / "licenses", staging / "licenses")
    stamp = {
        "key": key,
        "packages": [package.pin for package in sources.PACKAGES],
        "classifier": {"float32_max_logit_difference": report.float32_max_difference,
                       "float16_max_logit_difference": report.float16_max_difference,
                       "tolerance_float16": classifier.FLOAT16_TOLERANCE,
                       "check_inputs": len(check_inputs)},
        "photos": sorted(path.name for path in (staging / "photos").iterdir()),
    }
    (staging / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")


def _write_photos(folder: Path, package_dirs: dict[str, Path]) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    for photo in photos.PHOTOS:
        source = package_dirs[photo.package.name] / photo.path
        if source.suffix == ".jpg":
            shutil.copyfile(source, folder / photo.file_name)
            continue
        with Image.open(source) as image:
            image.convert("RGB").save(folder / photo.file_name, "JPEG",
                                      quality=photos.JPEG_QUALITY)


def _check_classifier_on_photos(staging: Path) -> None:
    """Every photo's expected labels in the top 5, through the app's own loader."""
    from PIL import Image

    from chalicelib.prediction.models import load_classifier

    model = load_classifier(str(staging / "classifier.json"))
    failures = []
    for name, required in photos.classifier_expectations().items():
        with Image.open(staging / "photos" / name) as image:
            (top,) = model.classify([image.convert("RGB")], top_k=5)
        labels = [item["label"] for item in top]
        if not set(required) <= set(labels):
            failures.append(f"{name}: expected {list(required)} in the top 5, got {labels}")
    if failures:
        raise PhotoCheckFailed("; ".join(failures))


def _install(ready: Path, out: Path, key: str) -> None:
    stamp = out / STAMP
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")).get("key") == key:
        _say(f"{out} is up to date ({key})")
        return
    incoming = out.with_name(f".{out.name}.incoming")
    shutil.rmtree(incoming, ignore_errors=True)
    shutil.copytree(ready, incoming)
    shutil.rmtree(out, ignore_errors=True)
    incoming.rename(out)
    _say(f"{out} now holds models {key}")


def _say(message: str) -> None:
    print(f"modelbuild: {message}", file=sys.stderr)
