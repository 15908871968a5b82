"""Build script: compiles the Cython kernels, with OpenMP where the compiler supports it."""

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def openmp_flags(compiler_name):
    """Return (compile_args, link_args) enabling OpenMP, or empty lists if unsupported."""
    if os.environ.get("SKLEARN_MLE_NO_OPENMP"):
        return [], []
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    cc = os.environ.get("CC", compiler_name)
    workdir = tempfile.mkdtemp()
    try:
        source = os.path.join(workdir, "probe.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROBE)
        for compile_args, link_args in candidates:
            cmd = [cc, *compile_args, source, "-o", os.path.join(workdir, "probe"), *link_args]
            try:
                result = subprocess.run(cmd, capture_output=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if result.returncode == 0:
                return compile_args, link_args
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("sklearn_mle: OpenMP not available, building single-threaded kernels.")
    return [], []


class BuildExtWithOpenMP(build_ext):
    """build_ext that probes the compiler for OpenMP and falls back to a serial build."""

    def build_extensions(self):
        compiler = getattr(self.compiler, "compiler_so", None)
        name = compiler[0] if compiler else "cc"
        compile_args, link_args = openmp_flags(name)
        for ext in self.extensions:
            ext.extra_compile_args = [*ext.extra_compile_args, *compile_args]
            ext.extra_link_args = [*ext.extra_link_args, *link_args]
        super().build_extensions()


extensions = [
    Extension(
        "sklearn_mle.families._kernels",
        ["sklearn_mle/families/_kernels.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"] if sys.platform != "win32" else [],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
