"""Build of the compiled part of deeppp: ``reconstruction._fastjet_ext``.

Everything else is declared in pyproject.toml. The extension links against the fastjet and
fastjet-contrib libraries that the ``fastjet`` wheel ships (``fastjet/include``,
``fastjet/lib64``); the build requirement pins the same ``fastjet`` version as the runtime
dependency, so headers and libraries match. The wheel's ``fastjet-config`` holds stale build
paths, hence the explicit -I/-L here.

Runtime lookup of ``libfastjet*.so`` uses an rpath with two entries:
``$ORIGIN/../fastjet/lib64`` (regular install: ``reconstruction/`` and ``fastjet/`` side by side
in site-packages) and the ``fastjet/lib64`` of the environment being installed into (editable
install: the extension sits in the source tree).
"""

from __future__ import annotations

import importlib.util
import sysconfig
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup


def _fastjet_package_dir() -> Path:
    # find_spec locates the package without importing it (its __init__ needs awkward & co.).
    spec = importlib.util.find_spec("fastjet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "building reconstruction._fastjet_ext needs the 'fastjet' wheel installed"
        )
    return Path(next(iter(spec.submodule_search_locations)))


fastjet_dir = _fastjet_package_dir()
runtime_fastjet_lib = Path(sysconfig.get_paths()["platlib"], "fastjet", "lib64")

extension = Pybind11Extension(
    "reconstruction._fastjet_ext",
    sources=["reconstruction/_fastjet_ext.cpp"],
    include_dirs=[str(fastjet_dir / "include")],
    library_dirs=[str(fastjet_dir / "lib64")],
    libraries=["fastjetcontribfragile", "fastjettools", "fastjet"],
    runtime_library_dirs=["$ORIGIN/../fastjet/lib64", str(runtime_fastjet_lib)],
    cxx_std=17,
    extra_compile_args=["-O2"],
)

setup(ext_modules=[extension], cmdclass={"build_ext": build_ext})
