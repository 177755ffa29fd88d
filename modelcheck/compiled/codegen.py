"""The generated loops of the flat form: ``expand`` written out for N servers.

A successor of a flat state is the state with one position replaced; written out per server
position, ``(x, s1, s2, b2)`` is one tuple display where a loop over positions would slice and
concatenate three tuples per successor. So the loops are generated as source for the number of
servers and the variant asked for (faults, history, worker parts, Zobrist keys): the slow loop
(:mod:`.loop_slow`) and the cached one (:mod:`.loop_cached`). This module holds what both share
and compiles them under a real file name (:func:`load`): tracebacks show their lines, coverage
and linters can read them (``tests/test_compiled_identity.py`` runs ruff on them).
"""

from __future__ import annotations

import hashlib
import linecache
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def generated_dir() -> Path | None:
    """Where generated loops are written: ``$RAFTKIT_GENERATED``, else the user's cache
    directory (``$XDG_CACHE_HOME`` or ``~/.cache``), else the system temp directory."""
    given = os.environ.get("RAFTKIT_GENERATED")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates = [given] if given else []
    candidates += [os.path.join(cache, "raftkit", "generated"),
                   os.path.join(tempfile.gettempdir(), f"raftkit-generated-{os.getuid()}")]
    for c in candidates:
        try:
            os.makedirs(c, exist_ok=True)
        except OSError:
            continue
        if os.access(c, os.W_OK):
            return Path(c)
    return None


def load(source: str, name: str) -> Callable[[Any], Any]:
    """Compile generated ``source`` (which defines ``make(self)``) under a real file name and
    return its ``make``. The file is named for the variant and its content's hash, so a loop
    already written is reused; where nothing can be written, the source is registered with
    ``linecache`` under the same name, so tracebacks still show it."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"{name}-{digest}.py"
    folder = generated_dir()
    path = None
    if folder is not None:
        path = folder / filename
        if not path.exists():
            try:
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(source)
                os.replace(tmp, path)
            except OSError:
                path = None
    where = str(path) if path is not None else f"<raftkit generated {filename}>"
    if path is None:
        linecache.cache[where] = (len(source), None, source.splitlines(True), where)
    namespace: dict[str, Any] = {}
    exec(compile(source, where, "exec"), namespace)  # noqa: S102
    return namespace["make"]


def variant_name(kind: str, n: int, faults: bool, hist: bool, **flags: Any) -> str:
    """A file name for one generated loop: what it is and for which configuration."""
    parts = [kind, f"n{n}", "faults" if faults else "nofaults", "hist" if hist else "flat"]
    parts += [f"{k}{int(v) if isinstance(v, bool) else v}" for k, v in sorted(flags.items())]
    return "_".join(parts)


def _key_block(indent: str, sv: str, b2: str, hist: bool = False) -> list[str]:
    """Source computing ``key`` for servers ``sv`` (a tuple expression) and bag ``b2`` (and,
    with history, allLogs ``A2`` and elections ``E2``)."""
    head = [
        f"{indent}sv = {sv}",
        f"{indent}cs = cand_get(sv)",
        f"{indent}if cs is None:",
        f"{indent}    cs = candidates(sv)",
        f"{indent}if len(cs) == 1:",
        f"{indent}    pi, ck = cs[0]",
        f"{indent}    bk = rel_get({b2} * NP + pi)",
        f"{indent}    if bk is None:",
        f"{indent}        bk = rel({b2}, pi)",
    ]
    if hist:
        return [
            *head,
            f"{indent}    ek = els_rel_get(E2 * NP + pi)",
            f"{indent}    if ek is None:",
            f"{indent}        ek = els_relabel(E2, pi)",
            f"{indent}    key = ck ^ bk ^ logs_hash[A2] ^ ek",
            f"{indent}else:",
            f"{indent}    key = multi_key(cs, {b2}, A2, E2)",
        ]
    return [
        *head,
        f"{indent}    key = ck ^ bk",
        f"{indent}else:",
        f"{indent}    key = multi_key(cs, {b2})",
    ]


def _joined(w: list[str], parts: bool, part: str = "", sym: int = 0) -> str:
    """The generated lines as source; with ``parts``, each successor's part (what
    ``--workers`` routes by: ``FlatRaft.partition``) is appended beside its key: ``part``
    after each ``keys_append(key)``, or with ``sym`` (symmetry, that many servers) the sum of
    the successor's servers' classes (``FlatRaft._srv_cls``) after each ``succs_append``."""
    if parts and sym:
        classes = " + ".join(f"cl[t_[{i}]]" for i in range(sym))
        out = []
        for line in w:
            body = line.lstrip()
            if body.startswith("succs_append(") and body.endswith(")"):
                indent = line[: len(line) - len(body)]
                out.append(f"{indent}t_ = {body[len('succs_append('):-1]}")
                out.append(f"{indent}succs_append(t_)")
                out.append(f"{indent}parts_append({classes})")
            else:
                out.append(line)
        w = out
    elif parts and part:
        out = []
        for line in w:
            out.append(line)
            if line.strip() == "keys_append(key)":
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}parts_append({part})")
        w = out
    return _prune("\n".join(w) + "\n")


_BINDING = re.compile(r"^(?:    |        )(\w+) = ")


def _prune(source: str) -> str:
    """The source without the local bindings that this variant's loop never reads (the
    generators bind everything any variant needs; a linter should see no dead names)."""
    lines = source.split("\n")
    while True:
        body = "\n".join(lines)
        dead = {
            k for k, line in enumerate(lines)
            if (m := _BINDING.match(line)) and len(re.findall(rf"\b{m.group(1)}\b", body)) == 1
        }
        if not dead:
            return body
        lines = [line for k, line in enumerate(lines) if k not in dead]


def _state_key(indent: str, hist: bool) -> list[str]:
    """Source setting ``key`` for a successor with the state's servers (and elections): the
    least over the state's candidates ``cs0`` (``single``: only ``pi0``, ``ck0``), with the
    successor's relabelled bag hashes ``brel``."""
    tail = " ^ LH ^ eks0[pi0]" if hist else ""
    tail_k = " ^ LH ^ eks0[pi]" if hist else ""
    return [
        f"{indent}if single:",
        f"{indent}    key = ck0 ^ brel[pi0]{tail}",
        f"{indent}else:",
        f"{indent}    key = None",
        f"{indent}    for pi, ck in cs0:",
        f"{indent}        kx = ck ^ brel[pi]{tail_k}",
        f"{indent}        if key is None or kx < key:",
        f"{indent}            key = kx",
    ]
