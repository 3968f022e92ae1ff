from pathlib import Path

import pytest

from stack.vendoring import (
    SLIM_RULES,
    distribution_name,
    remove_duplicate_libraries,
    unpack_wheels,
)


def removed_by(relative: str) -> str | None:
    return next((rule.why for rule in SLIM_RULES if rule.matches(relative)), None)


@pytest.mark.parametrize("relative", [
    "scipy/stats/tests/test_stats.py",
    "scipy/stats/tests/data/sample.npz",
    "numpy/_core/include/numpy/ndarraytypes.h",
    "scipy/io/_fast_matrix_market/__init__.py",
    "onnxruntime/capi/libonnxruntime.so.1.23.2",
    "onnxruntime/transformers/fusion_attention.py",
    "PIL/_avif.cpython-312-x86_64-linux-gnu.so",
    "PIL/_imagingcms.cpython-312-x86_64-linux-gnu.so",
    "numpy/_core/_simd.cpython-312-x86_64-linux-gnu.so",
    "numpy-2.3.5.dist-info/RECORD",
])
def test_slimming_removes_what_lambda_never_imports(relative):
    assert removed_by(relative) is not None


@pytest.mark.parametrize("relative", [
    # numpy.testing imports this helper from numpy's tests package
    "numpy/_core/tests/_natype.py",
    "numpy/_core/tests/__init__.py",
    "numpy/testing/_private/utils.py",
    "numpy/f2py/__init__.py",  # `from numpy import *` imports it
    "numpy.libs/libscipy_openblas64_-fdde5778.so",
    "scipy/stats/_stats_py.py",
    "scipy/special/cython_special.cpython-312-x86_64-linux-gnu.so",
    "onnxruntime/capi/onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so",
    "onnxruntime/datasets/mul_1.onnx",
    "PIL/_webp.cpython-312-x86_64-linux-gnu.so",
    "numpy-2.3.5.dist-info/METADATA",
    "onnxruntime/ThirdPartyNotices.txt",
])
def test_slimming_keeps_what_imports_and_licences_need(relative):
    assert removed_by(relative) is None


def test_distribution_names_are_normalized():
    assert distribution_name(Path("Pillow-12.0.0-cp312-cp312-manylinux2014_x86_64.whl")) == \
        "pillow"
    assert distribution_name(Path("requests_toolbelt-1.0.0-py2.py3-none-any.whl")) == \
        "requests-toolbelt"


def test_only_byte_identical_scipy_copies_of_numpy_libraries_go(tmp_path):
    for bundle, name, content in [("numpy.libs", "libgfortran-a.so", b"same"),
                                  ("scipy.libs", "libgfortran-a.so", b"same"),
                                  ("numpy.libs", "libquadmath-b.so", b"one"),
                                  ("scipy.libs", "libquadmath-b.so", b"other"),
                                  ("scipy.libs", "libscipy_openblas.so", b"blas")]:
        (tmp_path / bundle).mkdir(exist_ok=True)
        (tmp_path / bundle / name).write_bytes(content)
    assert remove_duplicate_libraries(tmp_path) == len(b"same")
    assert sorted(path.name for path in (tmp_path / "scipy.libs").iterdir()) == [
        "libquadmath-b.so", "libscipy_openblas.so"]
    assert (tmp_path / "numpy.libs" / "libgfortran-a.so").exists()


def test_unpacking_replaces_vendor_but_keeps_its_readme(tmp_path):
    import zipfile

    vendor = tmp_path / "vendor"
    (vendor / "stale").mkdir(parents=True)
    (vendor / "README.md").write_text("generated")
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "VALUE = 1\n")
    unpack_wheels([wheel], vendor)
    assert sorted(path.name for path in vendor.iterdir()) == ["README.md", "demo"]


def test_make_package_warns_only_when_a_zip_nears_chalice_deploys_limit(tmp_path):
    from chalice.constants import MAX_LAMBDA_DEPLOYMENT_SIZE

    from stack.package import WARN_MARGIN, size_warnings

    (tmp_path / "deployment.zip").write_bytes(b"\0" * 1024)
    with (tmp_path / "layer-deployment.zip").open("wb") as layer:
        layer.truncate(MAX_LAMBDA_DEPLOYMENT_SIZE - WARN_MARGIN + 1)
    [warning] = size_warnings(tmp_path)
    assert warning.startswith("warning: layer-deployment.zip is 47.0 MiB, within 3 MiB")
    with (tmp_path / "layer-deployment.zip").open("wb") as layer:
        layer.truncate(MAX_LAMBDA_DEPLOYMENT_SIZE - WARN_MARGIN)
    assert size_warnings(tmp_path) == []


def _needed(path):
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as stream:
        return [tag.needed for section in ELFFile(stream).iter_sections()
                if isinstance(section, DynamicSection) for tag in section.iter_tags()
                if tag.entry.d_tag == "DT_NEEDED"]


def test_renaming_a_library_in_an_elf_string_table_shortens_it_in_place(tmp_path):
    import numpy

    from stack.vendoring import rename_dynamic_strings

    [openblas] = (Path(numpy.__file__).parent.parent / "numpy.libs").glob("*openblas*")
    copy = tmp_path / openblas.name
    copy.write_bytes(openblas.read_bytes())
    [gfortran] = [name for name in _needed(copy) if name.startswith("libgfortran")]
    shorter = gfortran.replace("-0352e75f", "") if "-0352e75f" in gfortran else gfortran[:-2]
    assert rename_dynamic_strings(copy, {gfortran: shorter})
    assert copy.stat().st_size == openblas.stat().st_size
    assert shorter in _needed(copy) and gfortran not in _needed(copy)
    with pytest.raises(ValueError, match="longer"):
        rename_dynamic_strings(copy, {shorter: shorter + "-longer"})
