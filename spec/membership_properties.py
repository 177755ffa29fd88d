"""The properties with the membership option (``membership.py``).

The five properties of Figure 3 speak of leaders, logs and commits, not of configurations: they
are checked unchanged. The lemma ElectableLogsHoldCommitted counts a majority of all servers;
with membership a server wins an election with a majority of *its* configuration, so the lemma
takes that form here. One "sometimes" property more guards against a run whose bounds never let
a configuration change be committed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import partial

from .configuration import configuration, is_config
from .params import Params
from .properties import Form, Kind, Property
from .state import State, log_up_to_date


def electable_logs_hold_committed(p: Params, s: State) -> bool:
    """Lemma: a server that could win an election in its configuration holds every committed
    entry.

    It could win when it is in its own configuration (only then does it start elections) and
    its log is at least as up-to-date (§5.4.1) as the logs of a majority of that configuration.
    An entry is committed when some server's commitIndex covers it. This is the lemma of
    ``properties.py`` with majorities counted in the server's configuration (§4.1).
    """
    servers = s.servers
    committed = [srv.log[: min(srv.commitIndex, len(srv.log))] for srv in servers]
    if not max(committed, key=len):
        return True
    for i, srv in enumerate(servers):
        log = srv.log
        if all(log[: len(c)] == c for c in committed):
            continue
        config = configuration(p, log)
        if i not in config:
            continue
        term, length = (log[-1].term if log else 0), len(log)
        up_to = sum(1 for k in config if log_up_to_date(servers[k].log, term, length))
        if 2 * up_to > len(config):
            return False
    return True


def configuration_committed(s: State) -> bool:
    """Sometimes: some server's commitIndex covers a configuration entry (a change took
    effect for good)."""
    return any(
        is_config(e) for srv in s.servers for e in srv.log[: min(srv.commitIndex, len(srv.log))]
    )


CONFIGURATION_COMMITTED = Property(
    "ConfigurationCommitted", Kind.SOMETIMES, configuration_committed, "§4.1", Form.STEP
)


def membership_properties(
    p: Params, invariants: Sequence[Property], sometimes: Sequence[Property]
) -> tuple[tuple[Property, ...], tuple[Property, ...]]:
    """The invariants and sometimes properties with membership: the lemma in its membership
    form, and ConfigurationCommitted."""
    lemma = partial(electable_logs_hold_committed, p)
    lemma.__doc__ = electable_logs_hold_committed.__doc__
    return (
        tuple(
            dataclasses.replace(q, predicate=lemma, section="lemma, §5.4.3, §4.1",
                                symbolic=False)
            if q.name == "ElectableLogsHoldCommitted" else q
            for q in invariants
        ),
        (*sometimes, CONFIGURATION_COMMITTED),
    )
