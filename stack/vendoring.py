"""Fill ``vendor/`` with the compiled dependencies for the Lambda runtime, slimmed.

Chalice cannot build numpy, scipy, Pillow or onnxruntime for Lambda, so the
manylinux wheels of the versions pinned in ``requirements-vendor.txt`` are
downloaded for the target runtime (CPython of this interpreter, x86_64,
glibc <= 2.34) and unpacked into ``vendor/``, which Chalice ships in its
automatic layer.  Then the tree is slimmed by rules that each name what they
remove and why; the package tests (``tests/package``) import and serve every
route from the result, so a rule that breaks an import fails them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WHEEL_CACHE = PROJECT_DIR / "build" / "wheels"
# manylinux_2_28 wheels need glibc 2.28 and manylinux2014 2.17; Lambda's
# Amazon Linux 2023 has 2.34.  Newer tags (manylinux_2_34+) are not asked for.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
KEEP_IN_VENDOR = frozenset({"README.md"})

# Runtime dependencies that the pinned packages declare but the code paths we
# ship never import.  onnxruntime declares all of these for its offline tools
# (onnxruntime.transformers, .quantization, .tools: model conversion that
# needs sympy and onnx); `import onnxruntime` and InferenceSession need only
# numpy, which the package tests prove in a bare interpreter.
EXCLUDED_DISTRIBUTIONS = {
    "sympy": "onnxruntime.transformers only (symbolic shape inference)",
    "mpmath": "sympy's dependency",
    "coloredlogs": "onnxruntime.transformers / tools logging only",
    "humanfriendly": "coloredlogs' dependency",
    "protobuf": "onnxruntime.transformers / quantization (onnx models in Python)",
    "flatbuffers": "onnxruntime.tools (ORT format conversion) only",
    "packaging": "onnxruntime.transformers / quantization version checks only",
}


DROPPED_SCIPY_SUBPACKAGES = ("cluster", "datasets", "differentiate", "fftpack", "io",
                             "misc", "odr", "signal")
# Modules inside scipy.stats that `import scipy.stats` does not import (a
# package test checks no shipped module imports them).
DROPPED_SCIPY_MODULES = ("stats.sampling", "stats._sampling", "stats._unuran")


@dataclass(frozen=True)
class Rule:
    """Paths (fnmatch patterns relative to vendor/) removed, and why."""

    why: str
    patterns: tuple[str, ...]
    keep: tuple[str, ...] = ()

    def matches(self, relative: str) -> bool:
        return (any(fnmatch.fnmatchcase(relative, pattern) for pattern in self.patterns)
                and not any(fnmatch.fnmatchcase(relative, pattern) for pattern in self.keep))


SLIM_RULES: tuple[Rule, ...] = (
    Rule("test modules and their data; helper modules inside tests/ stay because "
         "library code imports some (numpy.testing imports numpy/_core/tests/_natype.py)",
         ("*/tests/*",), keep=("*/tests/*.py",)),
    Rule("test modules inside tests/ packages", ("*/tests/test_*.py", "*/tests/*/test_*.py",
                                                  "*/tests/conftest.py")),
    Rule("pytest configuration and numpy.typing's test data (mypy examples): read by "
         "test runs only", ("*/conftest.py", "numpy/typing/tests/data/*")),
    Rule("compiled test-only extension modules (numpy's _simd, *_tests; scipy's _test_*)",
         ("numpy/_core/_simd.*.so", "numpy/_core/_*_tests.*.so",
          "numpy/_core/_operand_flag_tests.*.so", "scipy/*/_test_*.so",
          "scipy/*/*/_test_*.so", "scipy/ndimage/_cytest.*.so", "scipy/ndimage/_ctest.*.so",
          "scipy/_lib/_fpumode.*.so")),
    Rule("build-time sources and headers (type stubs, Cython, C/C++)",
         ("*.pyi", "*.pxd", "*.pyx", "*.pxi", "*.h", "*.hpp", "*.c", "*.cpp",
          "*.f", "*.f90", "numpy/_core/include/*", "numpy/_core/lib/*")),
    Rule("Sobol sequences' direction numbers (0.55 MiB zipped): read when a "
         "scipy.stats.qmc.Sobol engine is first built (measured with an audit hook on "
         "open), which describing a sample never does",
         ("scipy/stats/_sobol_direction_numbers.npz",)),
    Rule("installers' file lists (pip uninstall only; importlib.metadata reads METADATA)",
         ("*.dist-info/RECORD",)),
    Rule("onnxruntime's C API library: the Python binding links the runtime "
         "statically (no DT_NEEDED on it)", ("onnxruntime/capi/libonnxruntime.so*",)),
    Rule("onnxruntime's offline model tools (need sympy/onnx, not shipped)",
         ("onnxruntime/transformers/*", "onnxruntime/quantization/*",
          "onnxruntime/tools/*")),
    Rule("Pillow's AVIF codec, font rendering (ImageFont) and colour management "
         "(ImageCms): the API decodes JPEG, PNG, WebP, GIF and BMP only (fewer decoders, "
         "smaller attack surface); Pillow reports the missing ones as unsupported",
         ("PIL/_avif.*.so", "pillow.libs/libavif-*", "PIL/_imagingft.*.so",
          "pillow.libs/libfreetype-*", "pillow.libs/libharfbuzz-*",
          "pillow.libs/libbrotli*", "PIL/_imagingcms.*.so")),
    Rule("scipy subpackages outside scipy.stats' import closure (checked by "
         "tests/package: no shipped module imports them)",
         tuple(f"scipy/{name}/*" for name in DROPPED_SCIPY_SUBPACKAGES)),
    Rule("scipy's array API adapters for CuPy, Dask and PyTorch arrays: used only when "
         "arrays of those libraries come in, and none is shipped",
         tuple(f"scipy/_lib/array_api_compat/{name}/*" for name in ("cupy", "dask", "torch"))),
    Rule("scipy.optimize's pure-Python COBYLA and COBYQA solvers, imported "
         "inside minimize(method='COBYLA'/'COBYQA') only, which the API never runs",
         ("scipy/_lib/pyprima/*", "scipy/_lib/cobyqa/*")),
    Rule("random variate generation (scipy.stats.sampling and its UNU.RAN library, "
         "0.5 MiB zipped): the API describes samples and never draws from a "
         "distribution; only scipy.stats.sampling imports them",
         tuple(pattern for name in DROPPED_SCIPY_MODULES for pattern in (
             f"scipy/{name.replace('.', '/')}.py", f"scipy/{name.replace('.', '/')}/*"))),
)


@dataclass
class SlimReport:
    removed_bytes: int = 0
    removed_files: int = 0
    stripped_bytes: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)


def download_wheels(requirements: Path, cache: Path = WHEEL_CACHE,
                    python_version: str | None = None) -> list[Path]:
    """The manylinux wheels of ``requirements`` (and dependencies) for the Lambda runtime.

    Each distinct requirements file and target gets its own folder in
    ``cache``; pip reuses the wheels already there.  Distributions in
    EXCLUDED_DISTRIBUTIONS are left out.  Raises CalledProcessError when pip fails.
    """
    version = python_version or f"{sys.version_info.major}{sys.version_info.minor}"
    target = [*PLATFORMS, f"cp{version}"]
    digest = hashlib.sha256(requirements.read_bytes() + repr(target).encode()).hexdigest()
    destination = cache / digest[:16]
    destination.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet",
               "--disable-pip-version-check", "--only-binary=:all:",
               "--implementation", "cp", "--python-version", version,
               "--abi", f"cp{version}", "--abi", "abi3", "--abi", "none",
               "--dest", str(destination), "-r", str(requirements)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command, check=True)
    return [wheel for wheel in sorted(destination.glob("*.whl"))
            if distribution_name(wheel) not in EXCLUDED_DISTRIBUTIONS]


def distribution_name(wheel: Path) -> str:
    """The normalized distribution name of a wheel file (PEP 427/503)."""
    return re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()


def unpack_wheels(wheels: Iterable[Path], vendor_dir: Path) -> None:
    """Empty ``vendor_dir`` (but its README) and unpack every wheel into it."""
    vendor_dir.mkdir(parents=True, exist_ok=True)
    for child in vendor_dir.iterdir():
        if child.name in KEEP_IN_VENDOR:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(vendor_dir)


def slim(vendor_dir: Path, rules: Iterable[Rule] = SLIM_RULES) -> SlimReport:
    """Remove what the rules name and strip extension modules; returns what it saved.

    Only Python extension modules are stripped: the auditwheel-patched
    libraries in ``*.libs/`` break when stripped ("ELF load command
    address/offset not page-aligned") and gain almost nothing.  Raises
    FileNotFoundError when GNU strip is missing.
    """
    rules = tuple(rules)
    report = SlimReport()
    for path in sorted(vendor_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(vendor_dir).as_posix()
        for rule in rules:
            if rule.matches(relative):
                size = path.stat().st_size
                path.unlink()
                report.removed_bytes += size
                report.removed_files += 1
                report.by_rule[rule.why] = report.by_rule.get(rule.why, 0) + size
                break
    _remove_empty_dirs(vendor_dir)
    duplicates = remove_duplicate_libraries(vendor_dir)
    if duplicates:
        report.removed_bytes += duplicates
        report.by_rule[_DUPLICATES] = duplicates
    rehashed = unify_rehashed_libraries(vendor_dir)
    if rehashed:
        report.removed_bytes += rehashed
        report.by_rule[_REHASHED] = rehashed
    orphans = remove_orphan_libraries(vendor_dir)
    if orphans:
        report.removed_bytes += orphans
        report.by_rule[_ORPHANS] = orphans
    report.stripped_bytes = strip_extension_modules(vendor_dir)
    return report


_DUPLICATES = ("scipy.libs/ copies of numpy.libs/ libraries (same soname, same bytes): "
               "scipy imports numpy first, so the loader already has them")
# (dependent package's bundle, the bundle it always loads first)
_SHARED_BUNDLES = (("scipy.libs", "numpy.libs"),)


def remove_duplicate_libraries(vendor_dir: Path) -> int:
    """Delete byte-identical copies of a library bundled by two packages; returns bytes.

    The dynamic loader matches a needed library against the sonames already
    loaded before it searches the RPATH; auditwheel names each bundled copy
    after its content hash, so equal names and bytes are the same library.
    """
    removed = 0
    for dependent, provider in _SHARED_BUNDLES:
        for path in sorted((vendor_dir / dependent).glob("*")):
            twin = vendor_dir / provider / path.name
            if twin.is_file() and twin.read_bytes() == path.read_bytes():
                removed += path.stat().st_size
                path.unlink()
    return removed


_REHASHED = ("scipy.libs/ copies of libraries numpy.libs/ bundles under a second hash "
             "(libgfortran, libquadmath: the same original build, 0.95 MiB zipped): "
             "numpy's copies take the plain name, which scipy's modules ask for")
_AUDITWHEEL_NAME = re.compile(r"(?P<stem>.+-[0-9a-f]{8})-[0-9a-f]{8}(?P<suffix>\.so(\..*)?)\Z")


def unify_rehashed_libraries(vendor_dir: Path) -> int:
    """Let scipy's modules load numpy's copy of a library both bundle; returns bytes removed.

    auditwheel names a bundled library ``name-<hash of the original>``; numpy's
    wheel bundles OpenBLAS's own bundle, so its libgfortran got a second hash
    (``libgfortran-040039e1-0352e75f``) while scipy's modules need the same
    original as ``libgfortran-040039e1``.  numpy's copy is renamed to the
    single-hash name (file, SONAME, and the DT_NEEDED entries naming it, all
    shortened in place); the loader then finds it already loaded, since scipy
    imports numpy first, and scipy's copy is deleted.
    """
    renames = {}
    for dependent, provider in _SHARED_BUNDLES:
        for path in sorted((vendor_dir / provider).glob("*")):
            match = _AUDITWHEEL_NAME.match(path.name)
            if match and (vendor_dir / dependent / (match["stem"] + match["suffix"])).is_file():
                renames[path.name] = match["stem"] + match["suffix"]
    if not renames:
        return 0
    for path in elf_files(vendor_dir):
        rename_dynamic_strings(path, renames)
    removed = 0
    for dependent, provider in _SHARED_BUNDLES:
        for old, new in renames.items():
            if (vendor_dir / provider / old).is_file():
                (vendor_dir / provider / old).rename(vendor_dir / provider / new)
            twin = vendor_dir / dependent / new
            if twin.is_file():
                removed += twin.stat().st_size
                twin.unlink()
    return removed


def rename_dynamic_strings(path: Path, renames: dict[str, str]) -> bool:
    """Shorten library names in the ELF file's dynamic string table, in place.

    Every NUL-terminated occurrence of an old name (DT_NEEDED, DT_SONAME and
    the version references share these strings) becomes the new, shorter
    name padded with NULs.  Returns whether the file changed.
    """
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as stream:
        section = ELFFile(stream).get_section_by_name(".dynstr")
        if section is None:
            return False
        offset, size = section["sh_offset"], section["sh_size"]
    data = bytearray(path.read_bytes())
    table = bytes(data[offset:offset + size])
    patched = table
    for old, new in renames.items():
        if len(new) > len(old):
            raise ValueError(f"{new} is longer than {old}: cannot rename in place")
        before = b"\0" + old.encode() + b"\0"
        after = b"\0" + new.encode().ljust(len(old), b"\0") + b"\0"
        patched = patched.replace(before, after)
    if patched == table:
        return False
    data[offset:offset + size] = patched
    path.write_bytes(bytes(data))
    return True


_ORPHANS = "bundled libraries (*.libs/) that no remaining file links against"


def remove_orphan_libraries(vendor_dir: Path) -> int:
    """Delete ``*.libs/`` files that no remaining ELF file needs; returns bytes removed.

    auditwheel bundles a library only because some extension module lists it
    in DT_NEEDED; once the rules above removed every such module, the library
    is dead weight.  Needs are matched by file name, which is conservative.
    """
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    removed = 0
    while True:
        needed: set[str] = set()
        libraries = []
        for path in elf_files(vendor_dir):
            if path.parent.name.endswith(".libs"):
                libraries.append(path)
            with path.open("rb") as stream:
                for section in ELFFile(stream).iter_sections():
                    if isinstance(section, DynamicSection):
                        needed.update(tag.needed for tag in section.iter_tags()
                                      if tag.entry.d_tag == "DT_NEEDED")
        orphans = [path for path in libraries if path.name not in needed]
        if not orphans:
            return removed
        for path in orphans:
            removed += path.stat().st_size
            path.unlink()


def elf_files(root: Path) -> list[Path]:
    """Every regular file under ``root`` that starts with the ELF magic number."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as stream:
                if stream.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def strip_extension_modules(vendor_dir: Path) -> int:
    """``strip --strip-unneeded`` every ``*.so`` outside ``*.libs/``; returns bytes saved."""
    strip = shutil.which("strip")
    if strip is None:
        raise FileNotFoundError("GNU strip (binutils) is needed to slim the package")
    modules = [path for path in vendor_dir.rglob("*.so")
               if not any(part.endswith(".libs") for part in
                          path.relative_to(vendor_dir).parts)]
    before = sum(path.stat().st_size for path in modules)
    for chunk in range(0, len(modules), 200):
        subprocess.run([strip, "--strip-unneeded", *map(str, modules[chunk:chunk + 200])],
                       check=True)
    return before - sum(path.stat().st_size for path in modules)


def _remove_empty_dirs(root: Path) -> None:
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()),
                            key=lambda p: len(p.parts), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()


def vendor(project_dir: Path = PROJECT_DIR, cache: Path = WHEEL_CACHE) -> SlimReport:
    """Download, unpack and slim the pinned compiled dependencies into vendor/."""
    wheels = download_wheels(project_dir / "requirements-vendor.txt", cache)
    unpack_wheels(wheels, project_dir / "vendor")
    return slim(project_dir / "vendor")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m stack vendor", description=__doc__)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--wheel-cache", type=Path, default=WHEEL_CACHE)
    args = parser.parse_args(argv)
    report = vendor(args.project_dir, args.wheel_cache)
    for why, size in report.by_rule.items():
        print(f"  removed {size / 2**20:6.1f} MiB: {why}")
    print(f"  stripped {report.stripped_bytes / 2**20:6.1f} MiB of symbols from "
          "extension modules")
    return 0
