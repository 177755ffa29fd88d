"""The generated loops of the flat form: ``expand`` written out for N servers.

A successor of a flat state is the state with one position replaced; written out per server
position, ``(x, s1, s2, b2)`` is one tuple display where a loop over positions would slice and
concatenate three tuples per successor. So the loops are generated as source for the number of
servers and the variant asked for (faults, history, worker parts, Zobrist keys), and compiled
under a real file name (:func:`load`): tracebacks show their lines, coverage and linters can
read them (``tests/test_compiled_identity.py`` runs ruff on them).
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
    if hist:
        return [
            f"{indent}sv = {sv}",
            f"{indent}cs = cand_get(sv)",
            f"{indent}if cs is None:",
            f"{indent}    cs = candidates(sv)",
            f"{indent}if len(cs) == 1:",
            f"{indent}    pi, ck = cs[0]",
            f"{indent}    bk = rel_get({b2} * NP + pi)",
            f"{indent}    if bk is None:",
            f"{indent}        bk = rel({b2}, pi)",
            f"{indent}    ek = els_rel_get(E2 * NP + pi)",
            f"{indent}    if ek is None:",
            f"{indent}        ek = els_relabel(E2, pi)",
            f"{indent}    key = ck ^ bk ^ logs_hash[A2] ^ ek",
            f"{indent}else:",
            f"{indent}    key = multi_key(cs, {b2}, A2, E2)",
        ]
    return [
        f"{indent}sv = {sv}",
        f"{indent}cs = cand_get(sv)",
        f"{indent}if cs is None:",
        f"{indent}    cs = candidates(sv)",
        f"{indent}if len(cs) == 1:",
        f"{indent}    pi, ck = cs[0]",
        f"{indent}    bk = rel_get({b2} * NP + pi)",
        f"{indent}    if bk is None:",
        f"{indent}        bk = rel({b2}, pi)",
        f"{indent}    key = ck ^ bk",
        f"{indent}else:",
        f"{indent}    key = multi_key(cs, {b2})",
    ]


def _flat_source(
    n: int,
    faults: bool,
    hist: bool = False,
    parts: bool = False,
    zob: bool = False,
    part_k: int = 0,
) -> str:
    """The source of ``expand`` for ``n`` servers, unrolled over the servers.

    Written out per server because a successor is the state with one position replaced:
    ``(x, s1, s2, b2)`` is one tuple display, where a loop over positions would slice and
    concatenate three tuples per successor. With ``parts`` and ``zob``, a successor's part is
    the hash of its first ``part_k`` servers (``FlatRaft.plan_workers``).
    """
    part_k = part_k or n
    S = [f"s{k}" for k in range(n)]
    servers = ", ".join(S)
    # allLogs steps are cached by the servers' (log, commitIndex) ids (``_all_logs_step``).
    lc_key = ", ".join(f"lcs[{x}]" for x in S)
    tail = ", A2, E2" if hist else ""
    w: list[str] = []
    a = w.append
    a("def make(self):")
    a("    stab_get = self._stab.get")
    a("    rtab_get = self._rtab.get")
    a("    pok_get = self._pok.get")
    a("    cand_get = self._cand.get")
    a("    rel_get = self._bag_rel.get")
    a("    add_get = self._bag_add.get")
    a("    rem_get = self._bag_rem.get")
    a("    candidates = self._candidates")
    a("    cl = self._srv_cls")
    a("    multi_key = self._multi_key")
    a("    rel = self._rel")
    a("    add = self._add")
    a("    rem = self._rem")
    a("    pair_ok = self._pair_ok")
    a("    lcs = self._srv_lc")
    a("    wok_get = self._wok.get")
    a("    whole_ok = self._whole_ok")
    a("    whole = bool(self._whole)")
    a("    mok_get = self._mok.get")
    a("    msg_ok = self._msg_ok")
    a("    server_steps = self._server_steps")
    a("    receipt = self._receipt")
    a("    apply = self._apply")
    a("    srv_inb = self._srv_inb")
    a("    bag_inb = self._bag_inb")
    a("    bag_msgs = self._bag_msgs")
    a("    dest = self._msg_dest")
    a("    enabled = self._enabled")
    if zob and parts:
        for i in range(part_k):
            a(f"    zs{i} = self._zs[{i}]")
    a("    NP = self._np")
    a(f"    N = {n}")
    a("    all_notes = self._all_notes")
    a("    a_dup = self._a_dup")
    a("    a_drop = self._a_drop")
    a("    logs_step_get = self._logs_step.get")
    a("    all_logs_step = self._all_logs_step")
    a("    logs_hash = self._logs_hash")
    a("    els_rel_get = self._els_rel.get")
    a("    els_relabel = self._els_relabel")
    a("    els_plus = self._els_plus")
    a("")
    if parts:
        # For workers: also each successor's part (``partition``), which ``_joined`` appends
        # beside it.
        a("    def expand(states, keys, succs, acts, firsts, parts):")
        a("        parts_append = parts.append")
    else:
        a("    def expand(states, keys, succs, acts, firsts):")
    a("        keys_append = keys.append")
    a("        succs_append = succs.append")
    a("        acts_append = acts.append")
    a("        firsts_append = firsts.append")
    a("        reached = self.reached")
    a("        pending = reached != all_notes")
    a("        generated = 0")
    a("        for st in states:")
    a("            firsts_append(len(keys))")
    if hist:
        a(f"            {servers}, b, A, E = st")
        a(f"            A2 = logs_step_get((A, {lc_key}))")
        a("            if A2 is None:")
        a(f"                A2 = all_logs_step(A, ({servers},))")
    else:
        a(f"            {servers}, b = st")
    for i in range(n):
        si = S[i]
        others = [S[k] for k in range(n) if k != i]
        replaced = ", ".join("x" if k == i else S[k] for k in range(n))
        a(f"            ents = stab_get({si} * N + {i})")
        a("            if ents is None:")
        a(f"                ents = server_steps(st, {i})")
        a("            generated += len(ents)")
        a("            for e in ents:")
        if hist:
            a("                ac, x, m, note, rec = e")
            a("                E2 = E if rec < 0 else els_plus(E, rec)")
        else:
            a("                ac, x, m, note = e")
        a("                enabled[ac] += 1")
        a("                if m < 0:")
        a("                    b2 = b")
        a("                else:")
        a("                    b2 = add_get((b << 32) | m)")
        a("                    if b2 is None:")
        a("                        b2 = add(b, m)")
        a(f"                if x != {si}:")
        for o in others:
            a(f"                    v = pok_get((x << 32) | {o})")
            a("                    if v is None:")
            a(f"                        v = pair_ok(x, {o})")
            a("                    if not v:")
            a(f"                        self._broken_local(st, {i}, e)")
        a(f"                    if whole and lcs[x] != lcs[{si}]:")
        a("                        kk = lcs[x]")
        for o in others:
            a(f"                        kk = (kk << 24) | lcs[{o}]")
        a("                        v = wok_get(kk)")
        a("                        if v is None:")
        a(f"                            v = whole_ok(kk, (x, {', '.join(others)}))")
        a("                        if not v:")
        a(f"                            self._broken_local(st, {i}, e)")
        a(f"                if x != {si} or m >= 0:")
        a(f"                    v = mok_get((((b2 << 32) | x) << 8) | {i})")
        a("                    if v is None:")
        a(f"                        v = msg_ok(b2, {i}, x)")
        a("                    if not v:")
        a(f"                        self._broken_local(st, {i}, e)")
        a("                    if not srv_inb[x] or not bag_inb[b2]:")
        a("                        continue")
        a("                if pending and note:")
        a("                    reached |= note")
        w.extend(_key_block("                ", f"({replaced},)", "b2", hist))
        a("                keys_append(key)")
        a(f"                succs_append(({replaced}, b2{tail}))")
        a("                acts_append(ac)")
    a("            msgs = bag_msgs[b]")
    a("            if not msgs:")
    a("                continue")
    a("            for m in msgs:")
    a("                i = dest[m]")
    a("                sid = st[i]")
    a("                es = rtab_get((sid << 32) | m)")
    a("                if es is None:")
    a("                    es = receipt(st, m)")
    a("                for e in es:")
    a("                    generated += 1")
    a("                    ac, x, op, r, note = e")
    if hist:
        a("                    E2 = E")
    a("                    enabled[ac] += 1")
    a("                    if op == 0:")
    a("                        b2 = b")
    a("                    elif op == 1:")
    a("                        b2 = rem_get((b << 32) | m)")
    a("                        if b2 is None:")
    a("                            b2 = rem(b, m)")
    a("                    else:")
    a("                        b2 = apply(b, m, op, r)")
    a("                    if x != sid:")
    a("                        for k in range(N):")
    a("                            if k != i:")
    a("                                v = pok_get((x << 32) | st[k])")
    a("                                if v is None:")
    a("                                    v = pair_ok(x, st[k])")
    a("                                if not v:")
    a("                                    self._broken_recv(st, m, e)")
    a("                        if whole and lcs[x] != lcs[sid]:")
    a("                            kk = lcs[x]")
    a("                            for k in range(N):")
    a("                                if k != i:")
    a("                                    kk = (kk << 24) | lcs[st[k]]")
    a("                            v = wok_get(kk)")
    a("                            if v is None:")
    a("                                v = whole_ok(kk, (x, *[st[k] for k in range(N) if k != i]))")
    a("                            if not v:")
    a("                                self._broken_recv(st, m, e)")
    a("                    if x != sid or op == 2:")
    a("                        v = mok_get((((b2 << 32) | x) << 8) | i)")
    a("                        if v is None:")
    a("                            v = msg_ok(b2, i, x)")
    a("                        if not v:")
    a("                            self._broken_recv(st, m, e)")
    a("                        if not srv_inb[x] or not bag_inb[b2]:")
    a("                            continue")
    a("                    if pending and note:")
    a("                        reached |= note")
    a("                    if x == sid:")
    a(f"                        nsv = ({servers},)")
    for i in range(n):
        replaced = ", ".join("x" if k == i else S[k] for k in range(n))
        a(f"                    elif i == {i}:")
        a(f"                        nsv = ({replaced},)")
    w.extend(_key_block("                    ", "nsv", "b2", hist))
    a("                    keys_append(key)")
    a(f"                    succs_append((*nsv, b2{tail}))")
    a("                    acts_append(ac)")
    if faults:
        a("            nmsgs = len(msgs)")
        a("            generated += 2 * nmsgs")
        a("            enabled[a_dup] += nmsgs")
        a("            enabled[a_drop] += nmsgs")
        a(f"            sv0 = ({servers},)")
        if hist:
            a("            E2 = E")
        a("            for m in msgs:")
        a("                b2 = add_get((b << 32) | m)")
        a("                if b2 is None:")
        a("                    b2 = add(b, m)")
        a("                if not bag_inb[b2]:")
        a("                    continue")
        w.extend(_key_block("                ", "sv0", "b2", hist))
        a("                keys_append(key)")
        a(f"                succs_append(({servers}, b2{tail}))")
        a("                acts_append(a_dup)")
        a("            for m in msgs:")
        a("                b2 = rem_get((b << 32) | m)")
        a("                if b2 is None:")
        a("                    b2 = rem(b, m)")
        w.extend(_key_block("                ", "sv0", "b2", hist))
        a("                keys_append(key)")
        a(f"                succs_append(({servers}, b2{tail}))")
        a("                acts_append(a_drop)")
    a("        if pending:")
    a("            self.reached = reached")
    a("        return generated")
    a("")
    a("    return expand")
    if zob:
        return _joined(w, parts, " ^ ".join(f"zs{i}[sv[{i}]]" for i in range(part_k)))
    return _joined(w, parts, sym=n)


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


def _fast_source(
    n: int,
    faults: bool,
    hist: bool = False,
    parts: bool = False,
    zob: bool = False,
    delta: bool = False,
    part_k: int = 0,
) -> str:
    """The source of the cached ``expand`` for ``n`` servers (see ``FlatRaft._prepare``).

    A state whose server tuple (``svinfo``) and every (server, place, bag) (``ftl``) passed
    their checks before needs no check for its local steps or the message checks of its
    receipts: they read nothing else. Its local steps reduce to the in-bounds successors listed
    in the cache, in the order the slow path appends them. A state not cached yet is checked
    and cached by ``_prepare``; if a check fails it takes the slow path (``_flat_source``),
    which raises the first violation in the reference's order.

    With ``zob`` (no symmetry), a cached step carries the XOR between its successor's key and
    the state's (``FlatRaft._step_rel``), so a successor's key is one XOR with the state's.
    With ``delta`` as well, ``expand`` takes one more list, ``bases``: one key per state (0 for
    a state the slow path expanded), and appends each successor's XOR from it instead of its
    key; the caller XORs them by whole arrays (``batch.delta_keys``), and no successor's key is
    made, nor freed, as a Python int.
    """
    assert zob or not delta
    part_k = part_k or n
    kb = "" if delta else "base ^ "
    S = [f"s{k}" for k in range(n)]
    servers = ", ".join(S)
    # allLogs steps are cached by the servers' (log, commitIndex) ids (``_all_logs_step``).
    lc_key = ", ".join(f"lcs[{x}]" for x in S)
    tail = ", A2, E" if hist else ""
    w: list[str] = []
    a = w.append
    a("def make(self):")
    for i in range(n):
        a(f"    ftl{i} = self._ftl[{i}]")
    a("    bag_md = self._bag_md")
    a("    svinfo_get = self._svinfo.get")
    a("    slow = self._slow_expand_parts" if parts else "    slow = self._slow_expand")
    a("    prepare = self._prepare")
    a("    okc_get = self._okc.get")
    a("    bag_faults = self._bag_faults")
    a("    bag_fault_acts = self._bag_fault_acts")
    a("    fault_steps = self._fault_steps")
    a("    ok_servers = self._ok_servers")
    a("    rtab_get = self._rtab.get")
    a("    pok_get = self._pok.get")
    a("    cand_get = self._cand.get")
    a("    candidates = self._candidates")
    a("    cl = self._srv_cls")
    a("    multi_key = self._multi_key")
    a("    brel_get = self._brel.get")
    a("    brel_all = self._bag_rel_all")
    a("    add_get = self._bag_add.get")
    a("    rem_get = self._bag_rem.get")
    a("    add = self._add")
    a("    rem = self._rem")
    a("    pair_ok = self._pair_ok")
    a("    lcs = self._srv_lc")
    a("    wok_get = self._wok.get")
    a("    whole_ok = self._whole_ok")
    a("    whole = bool(self._whole)")
    a("    mok_get = self._mok.get")
    a("    msg_ok = self._msg_ok")
    a("    receipt = self._receipt")
    a("    apply = self._apply")
    a("    srv_inb = self._srv_inb")
    a("    bag_inb = self._bag_inb")
    a("    bag_msgs = self._bag_msgs")
    a("    dest = self._msg_dest")
    a("    enabled = self._enabled")
    a(f"    N = {n}")
    a("    all_notes = self._all_notes")
    a("    a_dup = self._a_dup")
    a("    a_drop = self._a_drop")
    a("    logs_step_get = self._logs_step.get")
    a("    all_logs_step = self._all_logs_step")
    a("    logs_hash = self._logs_hash")
    a("    eks_get = self._els_rel_all.get")
    a("    eks_all = self._els_all")
    a("    els_plus = self._els_plus")
    if zob:
        for i in range(n):
            a(f"    zs{i} = self._zs[{i}]")
        a(f"    zs = ({', '.join(f'zs{i}' for i in range(n))},)")
    a("")
    if parts and delta:
        a("    def expand(states, keys, succs, acts, firsts, parts, bases):")
        a("        parts_append = parts.append")
        a("        bases_append = bases.append")
        slow_call = "slow([st], keys, succs, acts, [], parts)"
    elif parts:
        a("    def expand(states, keys, succs, acts, firsts, parts):")
        a("        parts_append = parts.append")
        slow_call = "slow([st], keys, succs, acts, [], parts)"
    elif delta:
        a("    def expand(states, keys, succs, acts, firsts, bases):")
        a("        bases_append = bases.append")
        slow_call = "slow([st], keys, succs, acts, [])"
    else:
        a("    def expand(states, keys, succs, acts, firsts):")
        slow_call = "slow([st], keys, succs, acts, [])"
    a("        keys_append = keys.append")
    a("        succs_append = succs.append")
    a("        acts_append = acts.append")
    a("        acts_extend = acts.extend")
    a("        firsts_append = firsts.append")
    a("        reached = self.reached")
    a("        pending = reached != all_notes")
    a("        generated = 0")
    a("        for st in states:")
    a("            firsts_append(len(keys))")
    if hist:
        a(f"            {servers}, b, A, E = st")
    else:
        a(f"            {servers}, b = st")
    a(f"            sv0 = ({servers},)")
    a("            inf = svinfo_get(sv0)")
    for i in range(n):
        a(f"            f{i} = ftl{i}[{S[i]}].get(b)")
    cond = " or ".join(["inf is None"] + [f"f{i} is None" for i in range(n)])
    a(f"            if {cond}:")
    a("                inf = prepare(st)")
    a("                if inf is None:")
    a("                    self.reached = reached")
    a(f"                    generated += {slow_call}")
    a("                    reached = self.reached")
    if delta:
        a("                    bases_append(0)")
    a("                    continue")
    for i in range(n):
        a(f"                f{i} = ftl{i}[{S[i]}][b]")
    if not (zob and hist):
        a("            cs0 = inf[0]")
    if hist:
        a("            a2 = inf[1].get(A)")
        a("            if a2 is None:")
        a(f"                A2 = logs_step_get((A, {lc_key}))")
        a("                if A2 is None:")
        a("                    A2 = all_logs_step(A, sv0)")
        if zob:
            # Kept per server tuple, so with its servers' hash already in.
            a("                a2 = (A2, logs_hash[A2] ^ inf[0][0][1])")
        else:
            a("                a2 = (A2, logs_hash[A2])")
        a("                inf[1][A] = a2")
        a("            A2, LH = a2")
        a("            eks0 = eks_get(E)")
        a("            if eks0 is None:")
        a("                eks0 = eks_all(E)")
    if zob:
        # The state's key with allLogs already that of its successors.
        if not hist:
            a("            ck0 = cs0[0][1]")
        if parts:
            a("            p0 = " + " ^ ".join(f"zs{i}[{S[i]}]" for i in range(part_k)))
        a("            bb = brel_get(b)")
        a("            if bb is None:")
        a("                bb = brel_all(b)")
        a("            base = LH ^ bb[0] ^ eks0[0]" if hist else "            base = ck0 ^ bb[0]")
        if delta:
            a("            bases_append(base)")
    else:
        a("            single = len(cs0) == 1")
        a("            if single:")
        a("                pi0, ck0 = cs0[0]")
    for i in range(n):
        a(f"            f{i}[0][0] += 1")
    a("            generated += " + " + ".join(f"f{i}[1]" for i in range(n)))
    a("            if pending:")
    a("                reached |= " + " | ".join(f"f{i}[2]" for i in range(n)))
    for i in range(n):
        si = S[i]
        replaced = ", ".join("x" if k == i else S[k] for k in range(n))
        if zob:
            a(f"            for ac, x, b2, rec, zd in f{i}[3]:")
            if hist:
                a("                if rec < 0:")
                a(f"                    keys_append({kb}zd)")
                a(f"                    succs_append(({replaced}, b2, A2, E))")
                a("                else:")
                a("                    E2 = els_plus(E, rec)")
                a("                    eks = eks_get(E2)")
                a("                    if eks is None:")
                a("                        eks = eks_all(E2)")
                a(f"                    keys_append({kb}zd ^ eks0[0] ^ eks[0])")
                a(f"                    succs_append(({replaced}, b2, A2, E2))")
            else:
                a(f"                keys_append({kb}zd)")
                a(f"                succs_append(({replaced}, b2))")
            if parts:
                a(f"                parts_append(p0 ^ zs{i}[{si}] ^ zs{i}[x])" if i < part_k
                  else "                parts_append(p0)")
            a("                acts_append(ac)")
            continue
        a(f"            for ac, x, b2, rec, brel in f{i}[3]:")
        a(f"                if x == {si} and rec < 0:")
        a("                    cs = cs0")
        w.extend(_state_key(" " * 20, hist))
        a("                    keys_append(key)")
        a(f"                    succs_append(({servers}, b2{', A2, E' if hist else ''}))")
        a("                else:")
        a(f"                    sv = ({replaced},)")
        a("                    cs = cand_get(sv)")
        a("                    if cs is None:")
        a("                        cs = candidates(sv)")
        if hist:
            a("                    E2 = E if rec < 0 else els_plus(E, rec)")
            a("                    if len(cs) == 1:")
            a("                        pi, ck = cs[0]")
            a("                        eks = eks_get(E2)")
            a("                        if eks is None:")
            a("                            eks = eks_all(E2)")
            a("                        key = ck ^ brel[pi] ^ LH ^ eks[pi]")
            a("                    else:")
            a("                        eks = eks_get(E2)")
            a("                        if eks is None:")
            a("                            eks = eks_all(E2)")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi] ^ LH ^ eks[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
            a("                    keys_append(key)")
            a(f"                    succs_append(({replaced}, b2, A2, E2))")
        else:
            a("                    if len(cs) == 1:")
            a("                        pi, ck = cs[0]")
            a("                        key = ck ^ brel[pi]")
            a("                    else:")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
            a("                    keys_append(key)")
            a(f"                    succs_append(({replaced}, b2))")
        a("                acts_append(ac)")
    a("            md = bag_md[b]")
    a("            if not md:")
    a("                continue")
    a(f"            fs = ({', '.join(f'f{i}[4]' for i in range(n))},)")
    a("            for k, i in md:")
    a("                it = fs[i][k]")
    a("                if it is None:")
    a("                    continue")
    a("                ac, x, b2, moved, inb, brel, m, others = it")
    a("                if moved:")
    a("                    if i == 0:")
    a(f"                        sv = ({', '.join('x' if k == 0 else S[k] for k in range(n))},)")
    for i in range(1, n):
        a(f"                    elif i == {i}:")
        a(f"                        sv = ({', '.join('x' if k == i else S[k] for k in range(n))},)")
    # A server tuple whose every pair passed (and the whole-state check): the checks of a
    # receipt that leads to it pass. Kept with its symmetry candidates, needed next.
    a("                    cs = okc_get(sv)")
    a("                    if cs is None:")
    a("                        for o in others:")
    a("                            v = pok_get((x << 32) | st[o])")
    a("                            if v is None:")
    a("                                v = pair_ok(x, st[o])")
    a("                            if not v:")
    a("                                self._broken_recv(st, m)")
    a("                        if whole and lcs[x] != lcs[st[i]]:")
    a("                            kk = lcs[x]")
    a("                            for o in others:")
    a("                                kk = (kk << 24) | lcs[st[o]]")
    a("                            v = wok_get(kk)")
    a("                            if v is None:")
    a("                                v = whole_ok(kk, (x, *[st[o] for o in others]))")
    a("                            if not v:")
    a("                                self._broken_recv(st, m)")
    a("                        if not inb:")
    a("                            continue")
    a("                        cs = cand_get(sv)")
    a("                        if cs is None:")
    a("                            cs = candidates(sv)")
    a("                        ok_servers(sv, cs)")
    a("                    elif not inb:")
    a("                        continue")
    if zob:
        a(f"                    keys_append({kb}brel)")
        if parts:
            a("                    parts_append(p0 ^ zs[i][st[i]] ^ zs[i][x]"
              f" if i < {part_k} else p0)")
        a(f"                    succs_append((*sv, b2{tail}))")
        a("                else:")
        a("                    if not inb:")
        a("                        continue")
        a(f"                    keys_append({kb}brel)")
        if parts:
            a("                    parts_append(p0)")
        a(f"                    succs_append(({servers}, b2{tail}))")
        a("                acts_append(ac)")
    else:
        a("                    if len(cs) == 1:")
        a("                        pi, ck = cs[0]")
        if hist:
            a("                        key = ck ^ brel[pi] ^ LH ^ eks0[pi]")
            a("                    else:")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi] ^ LH ^ eks0[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
        else:
            a("                        key = ck ^ brel[pi]")
            a("                    else:")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
        a("                    keys_append(key)")
        a(f"                    succs_append((*sv, b2{tail}))")
        a("                else:")
        a("                    if not inb:")
        a("                        continue")
        a("                    cs = cs0")
        w.extend(_state_key(" " * 20, hist))
        a("                    keys_append(key)")
        a(f"                    succs_append(({servers}, b2{tail}))")
        a("                acts_append(ac)")
    if faults:
        # DuplicateMessage and DropMessage read only the bag: their in-bounds results are
        # listed once per bag (``_fault_steps``).
        a("            fi = bag_faults[b]")
        a("            if fi is None:")
        a("                fi = fault_steps(b)")
        a("            acts_extend(bag_fault_acts[b])")
        a("            nmsgs = len(md)")
        a("            generated += 2 * nmsgs")
        a("            enabled[a_dup] += nmsgs")
        a("            enabled[a_drop] += nmsgs")
        if zob:
            a("            for ac, b2, zd in fi:")
            a(f"                keys_append({kb}zd)")
            if parts:
                a("                parts_append(p0)")
            a(f"                succs_append(({servers}, b2{tail}))")
        else:
            a("            cs = cs0")
            a("            for ac, b2, brel in fi:")
            w.extend(_state_key(" " * 16, hist))
            a("                keys_append(key)")
            a(f"                succs_append(({servers}, b2{tail}))")
    a("        if pending:")
    a("            self.reached = reached")
    a("        return generated")
    a("")
    a("    return expand")
    return _joined(w, parts, sym=0 if zob else n)
