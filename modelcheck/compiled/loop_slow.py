"""The slow loop of the flat form, generated for N servers: every step met, every check made,
in the reference's order (the first violation is raised where the readable spec meets it)."""

from __future__ import annotations

from .codegen import _joined, _key_block


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
    g = _SlowLoop(n, faults, hist, parts, zob, part_k)
    g.prologue()
    g.local_steps()
    g.receipts()
    g.fault_steps()
    return g.end()


class _SlowLoop:
    """The generator of the slow loop (``_flat_source``), in parts."""

    def __init__(
        self, n: int, faults: bool, hist: bool, parts: bool, zob: bool, part_k: int,
        delta: bool = False,
    ) -> None:
        self.n, self.faults, self.hist, self.parts, self.zob = n, faults, hist, parts, zob
        self.delta = delta
        self.part_k = part_k or n
        self.S = [f"s{k}" for k in range(n)]
        self.servers = ", ".join(self.S)
        # allLogs steps are cached by the servers' (log, commitIndex) ids (``_all_logs_step``).
        self.lc_key = ", ".join(f"lcs[{x}]" for x in self.S)
        self.tail = ", A2, E2" if hist else ""
        self.w: list[str] = []
        self.a = self.w.append

    def prologue(self) -> None:
        a = self.a
        n = self.n
        servers = self.servers
        lc_key = self.lc_key
        hist = self.hist
        parts = self.parts
        zob = self.zob
        part_k = self.part_k
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

    def local_steps(self) -> None:
        a = self.a
        w = self.w
        n = self.n
        S = self.S
        tail = self.tail
        hist = self.hist
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
            a(f"                        kk = (kk << 3) | {i}")
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

    def receipts(self) -> None:
        a = self.a
        w = self.w
        n = self.n
        S = self.S
        servers = self.servers
        tail = self.tail
        hist = self.hist
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
        a("                            kk = (kk << 3) | i")
        a("                            v = wok_get(kk)")
        a("                            if v is None:")
        a("                                v = whole_ok(kk, (x, *[st[k] for k in range(N)"
          " if k != i]))")
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

    def fault_steps(self) -> None:
        a = self.a
        w = self.w
        servers = self.servers
        tail = self.tail
        hist = self.hist
        faults = self.faults
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

    def end(self) -> str:
        a = self.a
        w = self.w
        n = self.n
        parts = self.parts
        zob = self.zob
        part_k = self.part_k
        a("        if pending:")
        a("            self.reached = reached")
        a("        return generated")
        a("")
        a("    return expand")
        if zob:
            return _joined(w, parts, " ^ ".join(f"zs{i}[sv[{i}]]" for i in range(part_k)))
        return _joined(w, parts, sym=n)
