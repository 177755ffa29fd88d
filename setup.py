"""The optional C loop of the compiled model (everything else is in pyproject.toml).

``optional=True``: where it cannot be built (no compiler, no Python headers), the install goes
on without it and the checker runs the generated Python loop, which gives the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "raftkit.modelcheck.compiled._cloop",
            ["modelcheck/compiled/_cloop.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
