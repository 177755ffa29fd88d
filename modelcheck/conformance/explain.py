"""How a deviation is explained to a person: what the spec expected against what the trace
shows, the candidate steps and why each did not fit, and the closest one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...spec import options as O
from ...spec.configuration import config_index, configuration, is_config, members
from ...spec.model import format_label
from ...spec.state import (
    NIL,
    Role,
)
from . import rules as R
from .records import (
    _SPEC_NAME,
    MAX_DEPTH,
    OBSERVED,
    ROLE_NAME,
    Failure,
    Interp,
    Label,
    Step,
    spec_key,
)
from .traceformat import TraceEvent, event_summary, spec_event


class Explaining:
    """The explanations of :class:`.validator.Validator` (its tables are read through ``self``)."""

    def _fail_simple(self, ev: TraceEvent, i: int, reason: str) -> Failure:
        s = self._state_with(i, self.blank[i], ())
        return Failure(ev, self.events, {}, [], {}, {}, [], s, None, reason, R.RULE_GENERIC,
                       R.SAFETY)  # fmt: skip

    def _fail_rule(self, ev: TraceEvent, i: int, reason: str, rule: str, cls: str) -> Failure:
        interps = self.interps[i]
        srv = interps[0].server if interps else self.blank[i]
        s = self._state_with(i, srv, ())
        return Failure(ev, self.events, self.node_view(i, srv), [], {}, {}, [], s, None, reason,
                       rule, cls)  # fmt: skip

    def node_view(self, i: int, srv: Any) -> dict[str, Any]:
        """The spec's variables of one node, named as in raft.tla (nodes by their trace names)."""
        names = self.nodes

        def who(k: int) -> str | None:
            return None if k == NIL else names[k]

        log = [[e.term, self._entry_text(e)] for e in srv.log]
        return {
            "currentTerm": srv.currentTerm,
            "state": ROLE_NAME[Role(srv.state)],
            "votedFor": who(srv.votedFor),
            "log": log if len(log) <= 12 else ["...", *log[-12:]],
            "log length": len(srv.log),
            "commitIndex": srv.commitIndex,
            "snapshotIndex": srv.snapshotIndex,
            "votesResponded": [who(k) for k in srv.votesResponded],
            "votesGranted": [who(k) for k in srv.votesGranted],
            "matchIndex": {names[k]: v for k, v in enumerate(srv.matchIndex)},
        }

    def _entry_text(self, e: Any) -> str:
        if is_config(e):
            return "config " + ",".join(self.nodes[k] for k in members(e))
        return "noop" if e.value == O.NOOP else "normal"

    def _closest_message(self, want: tuple, msgs: Sequence[Any]) -> Any:
        """Of these spec messages, the one of the same type and destination closest to the
        trace's (fewest fields that differ), or None."""
        same = [m for m in msgs if spec_key(m)[0] == want[0] and m.mdest == want[3]]
        if not same:
            return None
        return min(same, key=lambda m: sum(
            w is not None and w != s for s, w in zip(spec_key(m), want, strict=False)))  # fmt: skip

    def _explain_failure(self, ev: TraceEvent, i: int, observed: tuple, x: Interp) -> Failure:
        bag = ((x.current, 1),) if x.current is not None else ()
        start = Step(self._state_with(i, x.server, bag), (), ())
        spontaneous = self._spontaneous(ev, i)
        want = self._obs_key(ev) if ev.kind == "Send" and spec_event(ev) else None
        obs_named = self._named(observed)
        candidates: list[tuple[str, str]] = []
        if ev.kind == "Restart":
            t = O.restart(self.p, start.state, i)
            children = [Step(t, (("Restart", i),), ())]
        else:
            children = list(self._expand(start, i, spontaneous))

        def score(step: Step) -> int:
            n = len(self._diffs(step.state.servers[i], observed))
            if want is not None:
                m = self._closest_message(want, [*step.produced, *x.pending])
                n += (
                    10
                    if m is None
                    else sum(
                        w is not None and w != s for s, w in zip(spec_key(m), want, strict=False)
                    )
                )
            return n

        best: tuple[int, Step] | None = None
        for child in children:
            diffs = self._diffs(child.state.servers[i], observed)
            text = "; ".join(f"{k}: spec {e}, trace {o}" for k, e, o in diffs)
            if want is not None and not any(self._key_matches(spec_key(m), want)
                                            for m in child.produced):  # fmt: skip
                sent = [self._show_msg(m) for m in child.produced]
                text = (text + "; " if text else "") + (
                    "sends " + ", ".join(sent) if sent else "sends nothing"
                )
            candidates.append((self._fmt(child.labels[-1]), text or "agrees"))
            sc = score(child)
            if best is None or sc < best[0]:
                best = (sc, child)
        for label, _fn in spontaneous:
            if not any(c.labels[-1] == label for c in children):
                candidates.append((self._fmt(label), "not enabled: " + self._why_not(label, i)))
        if ev.kind != "Restart" and not children and not candidates:
            candidates.append(("(none)", "no spec action of this node can produce this event"))
        # A deeper look: of the runs the search tried (up to its depth), the one whose result is
        # closest to what the event reports, the shorter on a tie.
        if ev.kind != "Restart":
            frontier = children
            for _depth in range(2, MAX_DEPTH + 1):
                nxt = [c for node in frontier for c in self._expand(node, i, spontaneous)]
                if not nxt or len(nxt) > 20_000:
                    break
                for child in nxt:
                    sc = score(child)
                    if best is None or sc < best[0]:
                        best = (sc, child)
                frontier = nxt
        closest_labels: list[str] = []
        closest_state = None
        if best is not None:
            closest_labels = [self._fmt(y) for y in best[1].labels]
            closest_state = best[1].state
            expected = self._named(self._spec_obs(best[1].state.servers[i]))
        else:
            expected = self._named(self._spec_obs(x.server))
        before = self._named(self._spec_obs(x.server))
        rule, cls = R.classify_state(ev.kind, expected, obs_named, before)
        if ev.kind in ("AddServer", "RemoveServer"):
            rule, cls = self._config_change_rule(x.server), R.SAFETY
        elif ev.kind in ("ConfigurationChanged", "ConfigurationCommitted"):
            closest_srv = best[1].state.servers[i] if best is not None else x.server
            expected["configuration"] = self._config_names(closest_srv.log)
            expected["configuration_index"] = config_index(closest_srv.log)
            obs_named["configuration"] = list(ev.info["members"])
            if not self._diffs(closest_srv, observed):
                rule, cls = R.RULE_CONFIG_LATEST, R.SAFETY
        if want is not None:
            obs_named["message"] = self._show_key(want)
            sent = [*best[1].produced, *x.pending] if best is not None else list(x.pending)
            closest_m = self._closest_message(want, sent)
            if closest_m is not None:
                expected["message"] = self._show_msg(closest_m)
            closest_srv = best[1].state.servers[i] if best is not None else x.server
            state_differs = not self._agrees(
                closest_srv, observed, self.last_obs[i], False, x.server
            )
            if not state_differs:
                rule, cls = R.classify_message(
                    want[0], None if closest_m is None else spec_key(closest_m), want,
                    x.server.currentTerm)  # fmt: skip
        reason = f"the spec cannot explain {event_summary(ev)}"
        return Failure(
            ev,
            self.events,
            self.node_view(i, x.server),
            candidates,
            expected,
            obs_named,
            closest_labels,
            self._state_with(i, x.server, bag),
            closest_state,
            reason,
            rule,
            cls,
        )

    def _config_names(self, log: Any) -> list[str]:
        return [self.nodes[k] for k in configuration(self.p, log)]

    def _config_change_rule(self, srv: Any) -> str:
        commit = min(srv.commitIndex, len(srv.log))
        return R.config_change_rule(
            srv.state == Role.Leader,
            config_index(srv.log) <= commit,
            commit > 0 and srv.log[commit - 1].term == srv.currentTerm,
        )

    def _fmt(self, label: Label) -> str:
        # The spec names servers s1..sN; a trace's reader knows them by the trace's names.
        return _SPEC_NAME.sub(lambda m: self.nodes[int(m.group(1)) - 1], format_label(label))

    def _named(self, obs: tuple) -> dict[str, Any]:
        out = dict(zip(OBSERVED, obs, strict=True))
        out["role"] = ROLE_NAME[Role(out["role"])]
        out["vote"] = None if out["vote"] == NIL else self.nodes[out["vote"]]
        return out

    def _diffs(self, srv: Any, observed: tuple) -> list[tuple[str, Any, Any]]:
        exp, obs = self._named(self._spec_obs(srv)), self._named(observed)
        return [(k, exp[k], obs[k]) for k in OBSERVED if exp[k] != obs[k]]

    def _show_key(self, key: tuple) -> str:
        typ, term, src, dst, *rest = key
        rest = ["?" if v is None else v for v in rest]
        shown = "?" if term is None else term
        return f"{typ} {self.nodes[src]}->{self.nodes[dst]} term {shown} {rest}"

    def _show_msg(self, m: Any) -> str:
        return self._show_key(spec_key(m))

    def _why_not(self, label: Label, i: int) -> str:
        interps = self.interps[i]
        srv = interps[0].server if interps else self.blank[i]
        role = ROLE_NAME[Role(srv.state)]
        name = label[0]
        if name == "Timeout" and self.p.prevote:
            return (
                f"needs a pre-candidate with a majority of pre-votes (is {role}, "
                f"pre-votes {len(srv.votesGranted)} of {len(self.nodes)})"
            )
        if name in ("Timeout", "PreVoteTimeout"):
            return f"needs a node that is not leader (is {role})"
        if name == "BecomeLeader":
            return (
                f"needs a candidate with a majority of votes (is {role}, "
                f"votes {[self.nodes[v] for v in srv.votesGranted]})"
            )
        if name == "RequestPreVote":
            return (
                f"needs a pre-candidate that has not heard from {self.nodes[label[2]]} "
                f"(is {role}, heard from {[self.nodes[v] for v in srv.votesResponded]})"
            )
        if name == "RequestVote":
            return f"needs a candidate that has not heard from {self.nodes[label[2]]} (is {role})"
        if name == "AppendEntries" and len(label) > 3:
            if srv.state != Role.Leader:
                return f"needs a leader (is {role})"
            return (
                f"prevLogIndex {label[3]} with {label[4]} entries is outside the log it can send "
                f"(snapshot {srv.snapshotIndex}, log length {len(srv.log)})"
            )
        if name in ("AdvanceCommitIndex", "ClientRequest", "AppendNoop", "InstallSnapshot"):
            if srv.state != Role.Leader:
                return f"needs a leader (is {role})"
            if name == "AppendNoop":
                return "the log already has an entry of the leader's term"
            return "nothing to do"
        if name in ("AddServer", "RemoveServer"):
            if srv.state != Role.Leader:
                return f"needs a leader (is {role})"
            rule = self._config_change_rule(srv)
            if rule != R.RULE_CONFIG_CHANGE:
                return f"{rule} (commitIndex {srv.commitIndex}, log {len(srv.log)} entries)"
            config = self._config_names(srv.log)
            where = "outside" if name == "AddServer" else "in (and not alone in)"
            return f"needs a server {where} the configuration {config}"
        if name == "Compact":
            return f"needs {srv.snapshotIndex} < index <= commitIndex {srv.commitIndex}"
        if name == "StepDown":
            return f"needs a leader or (pre-)candidate (is {role})"
        return "its preconditions do not hold"


def failure_text(f: Failure) -> str:
    """The report for people: the event, the spec's state before it, the candidates."""
    out = [
        f"does not conform: event {f.number} ({f.event.where}) is not explained by the spec",
        f"  event: {event_summary(f.event)}",
    ]
    if f.node_state:
        out.append(f"  spec state of {f.event.node} before it:")
        for k, v in f.node_state.items():
            out.append(f"    {k} = {v}")
    if f.candidates:
        out.append("  candidate actions and why each fails:")
        for a, why in f.candidates:
            out.append(f"    {a}: {why}")
    if f.closest:
        out.append("  closest run of spec steps: " + ", ".join(f.closest))
    if f.expected or f.observed:
        out.append("  expected (spec) vs observed (trace):")
        for k in dict.fromkeys([*f.expected, *f.observed]):
            e, o = f.expected.get(k), f.observed.get(k)
            mark = "   " if e == o else " ≠ "
            out.append(f"    {k}: {e}{mark}{o}")
    if not f.node_state:
        out.append("  " + f.reason)
    return "\n".join(out)
