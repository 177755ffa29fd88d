"""The cached loop of the flat form, generated for N servers: the steps of each (server, place,
bag) listed once checked (``flat_cache``), so most states make their successors without a check.
"""

from __future__ import annotations

from .codegen import _joined, _state_key


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
    assert zob or not delta
    g = _FastLoop(n, faults, hist, parts, zob, part_k, delta)
    g.prologue()
    g.state_header()
    g.local_steps()
    g.receipts()
    g.fault_steps()
    return g.end()


class _FastLoop:
    """The generator of the cached loop (``_fast_source``), in parts."""

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
        self.tail = ", A2, E" if hist else ""
        self.kb = "" if delta else "base ^ "
        self.slow_call = (
            "slow([st], keys, succs, acts, [], parts)" if parts
            else "slow([st], keys, succs, acts, [])"
        )
        self.w: list[str] = []
        self.a = self.w.append

    def prologue(self) -> None:
        a = self.a
        n = self.n
        parts = self.parts
        zob = self.zob
        delta = self.delta
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
        elif parts:
            a("    def expand(states, keys, succs, acts, firsts, parts):")
            a("        parts_append = parts.append")
        elif delta:
            a("    def expand(states, keys, succs, acts, firsts, bases):")
            a("        bases_append = bases.append")
        else:
            a("    def expand(states, keys, succs, acts, firsts):")
        a("        keys_append = keys.append")
        a("        succs_append = succs.append")
        a("        acts_append = acts.append")
        a("        acts_extend = acts.extend")
        a("        firsts_append = firsts.append")
        a("        reached = self.reached")
        a("        pending = reached != all_notes")
        a("        generated = 0")

    def state_header(self) -> None:
        a = self.a
        n = self.n
        S = self.S
        servers = self.servers
        lc_key = self.lc_key
        hist = self.hist
        parts = self.parts
        zob = self.zob
        part_k = self.part_k
        delta = self.delta
        slow_call = self.slow_call
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
            base = "LH ^ bb[0] ^ eks0[0]" if hist else "ck0 ^ bb[0]"
            a(f"            base = {base}")
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

    def local_steps(self) -> None:
        a = self.a
        w = self.w
        n = self.n
        S = self.S
        servers = self.servers
        hist = self.hist
        parts = self.parts
        zob = self.zob
        part_k = self.part_k
        kb = self.kb
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

    def receipts(self) -> None:
        a = self.a
        w = self.w
        n = self.n
        S = self.S
        servers = self.servers
        tail = self.tail
        hist = self.hist
        parts = self.parts
        zob = self.zob
        part_k = self.part_k
        kb = self.kb
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
            sv = ", ".join("x" if k == i else S[k] for k in range(n))
            a(f"                        sv = ({sv},)")
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
        a("                            kk = (kk << 3) | i")
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

    def fault_steps(self) -> None:
        a = self.a
        w = self.w
        servers = self.servers
        tail = self.tail
        hist = self.hist
        faults = self.faults
        parts = self.parts
        zob = self.zob
        kb = self.kb
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

    def end(self) -> str:
        a = self.a
        w = self.w
        n = self.n
        parts = self.parts
        zob = self.zob
        a("        if pending:")
        a("            self.reached = reached")
        a("        return generated")
        a("")
        a("    return expand")
        return _joined(w, parts, sym=0 if zob else n)
