"""Reading a legacy (pre-1.6) PyTorch ``.pth`` state dict with the standard library and numpy.

The legacy format is a run of pickles: a magic number, the protocol version,
system information, the state dict itself (tensors refer to storages by a
persistent id), the list of storage keys, then each storage's raw bytes
preceded by its element count.  Only what a state dict of float tensors
needs is understood; anything else in the pickle is refused, so a hostile
file cannot make the unpickler import and call arbitrary code.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8,
}


class LegacyCheckpointError(ValueError):
    """The file is not a legacy PyTorch state dict this reader understands."""


@dataclass(frozen=True)
class _TensorRef:
    storage_key: str
    dtype: Any
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: Any


def _rebuild_tensor_v2(storage: _StorageRef, offset: int, shape: tuple[int, ...],
                       stride: tuple[int, ...], *_: Any) -> _TensorRef:
    return _TensorRef(storage.key, storage.dtype, offset, tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Allows exactly the globals a state dict of tensors refers to."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise LegacyCheckpointError(f"the checkpoint refers to {module}.{name}, "
                                    "which a plain state dict never needs")

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ('storage', storage_type, key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise LegacyCheckpointError(f"unexpected persistent id {pid!r}")
        return _StorageRef(str(pid[2]), _STORAGE_DTYPES[pid[1]])


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the legacy checkpoint at ``path`` as a numpy array, by name.

    Raises LegacyCheckpointError for a file in another format.
    """
    with path.open("rb") as stream:
        return _read(stream)


def _read(stream: BinaryIO) -> dict[str, np.ndarray]:
    safe = _StateDictUnpickler
    if safe(stream).load() != LEGACY_MAGIC:
        raise LegacyCheckpointError("not a legacy PyTorch checkpoint (bad magic number); "
                                    "zip-based checkpoints (PyTorch >= 1.6) are not read here")
    safe(stream).load()  # protocol version
    system = safe(stream).load()
    if not system.get("little_endian", False):
        raise LegacyCheckpointError("big-endian checkpoints are not supported")
    state = safe(stream).load()
    keys = safe(stream).load()
    dtypes = {ref.storage_key: ref.dtype for ref in state.values()}
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        (count,) = struct.unpack("<q", stream.read(8))
        dtype = np.dtype(dtypes.get(key, np.float32))
        raw = stream.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise LegacyCheckpointError(f"storage {key} is truncated")
        storages[key] = np.frombuffer(raw, dtype=dtype)
    return {name: _view(ref, storages) for name, ref in state.items()}


def _view(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    storage = storages[ref.storage_key]
    itemsize = storage.dtype.itemsize
    if not ref.shape:
        return storage[ref.offset].copy()
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset:], shape=ref.shape,
        strides=tuple(step * itemsize for step in ref.stride), writeable=False)
    return np.ascontiguousarray(view)
