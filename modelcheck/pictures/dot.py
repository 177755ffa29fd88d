"""Graphviz's ``dot`` program: whether it is installed, and rendering through it.

The ``graphviz`` Python package only writes DOT text; turning it into SVG or PNG runs the
``dot`` program, which is a system package. Without it the package fails deep inside a
subprocess call; the commands ask :func:`missing` before they search, and :func:`pipe` turns a
failure that still happens (``dot`` removed during a run) into :class:`NoGraphviz`.
"""

from __future__ import annotations

import shutil
from typing import Any

#: How to get ``dot``, said wherever it is missing.
INSTALL_HINT = (
    "install Graphviz: apt-get install graphviz (Debian, Ubuntu), brew install graphviz "
    "(macOS), or see https://graphviz.org/download"
)


class NoGraphviz(RuntimeError):
    """A picture needs Graphviz's ``dot`` program and it is not installed."""


def missing() -> str | None:
    """Why nothing can be rendered here, with how to install ``dot``; None when ``dot`` is on
    the PATH."""
    if shutil.which("dot") is not None:
        return None
    return f"Graphviz's dot program is not installed ({INSTALL_HINT})"


def pipe(graph: Any, fmt: str, encoding: str | None = None) -> Any:
    """``graph`` (a ``graphviz`` graph) rendered by ``dot`` to ``fmt``: bytes, or text with
    ``encoding``. Raises :class:`NoGraphviz` when ``dot`` cannot be run."""
    import graphviz

    try:
        return graph.pipe(format=fmt, encoding=encoding, quiet=True)
    except graphviz.ExecutableNotFound:
        raise NoGraphviz(
            f"rendering {fmt.upper()}: {missing() or 'Graphviz could not be run'}"
        ) from None
