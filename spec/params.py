"""The constants of the specification and the bounds that make its state space finite.

raft.tla leaves ``Server`` and ``Value`` open; a model checker needs them fixed, and needs a state
constraint (here: ``max_term``, ``max_log``, ``max_dup``, ``max_inflight``) to stop the search.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .mutants import Mutant


@dataclass(frozen=True)
class Params:
    """One bounded configuration of the spec.

    ``servers`` and ``values`` are raft.tla's ``Server`` and ``Value``. The bounds act like a TLC
    ``CONSTRAINT``: a state breaking them is still checked, but not explored further.
    """

    servers: int = 3
    values: int = 1
    max_term: int = 3
    max_log: int = 1
    max_dup: int = 1
    max_inflight: int = 1
    faults: bool = False
    history: bool = False
    ghost: bool = False
    #: A known-bug variant (``mutants.Mutant``; its name as a string is taken too).
    mutant: Mutant | None = None
    # Options: what implementations do beyond raft.tla (spec/options.py). All off by default, and
    # with all off the spec is raft.tla exactly.
    batch: int = 0
    prevote: bool = False
    noop: bool = False
    snapshots: bool = False
    stepdown: bool = False
    # Membership changes, one server at a time (spec/membership.py): the initial configuration
    # is s1..s{init_config} (0: every server), the others may join; no log holds more than
    # ``max_changes`` configuration entries (a bound, like max_log).
    membership: bool = False
    init_config: int = 0
    max_changes: int = 1
    # With membership: only s1..s{candidates} ever start an election (0: every server). An action
    # constraint, like TLC's ACTION_CONSTRAINT: it keeps runs of four servers small.
    candidates: int = 0
    # With membership: a leader also replicates (AppendEntries, InstallSnapshot) to servers
    # outside its configuration, as it does to a new server it catches up before adding it
    # (dissertation §4.2.1). Off for the checker's runs; on to validate traces of
    # implementations that catch new servers up.
    catch_up: bool = False
    # With membership: a server removed by a configuration entry that is not committed yet may
    # still start elections, its own vote not counted (dissertation §4.2.2). Off for the
    # checker's runs; on to validate implementations that follow §4.2.2 here.
    stand_until_removed: bool = False

    def __post_init__(self) -> None:
        # A mutant given by name becomes the enum the actions compare with; an unknown name
        # stays as given, for validate() to refuse in one line.
        if isinstance(self.mutant, str) and self.mutant in Mutant._value2member_map_:
            object.__setattr__(self, "mutant", Mutant(self.mutant))

    @property
    def options_on(self) -> bool:
        """True if any option of ``spec/options.py`` is on (the readable spec then runs)."""
        return bool(self.batch or self.prevote or self.noop or self.snapshots or self.stepdown)

    @property
    def extended(self) -> bool:
        """True if any option (``spec/options.py``, ``spec/membership.py``) is on."""
        return self.options_on or self.membership

    def validate(self) -> None:
        """Raise ``ValueError`` with a one-line message naming the CLI flag at fault."""
        _in_range("--servers", self.servers, 1, 5)
        # No client values at all only with membership: configuration entries are then the only
        # entries, which keeps the runs that need four servers small.
        _in_range("--values", self.values, 0 if self.membership else 1, 3)
        _in_range("--max-term", self.max_term, 1, 20)
        _in_range("--max-log", self.max_log, 0, 20)
        _in_range("--max-dup", self.max_dup, 1, 20)
        _in_range("--max-inflight", self.max_inflight, 1, 50)
        _in_range("--batch", self.batch, 0, 20)
        _in_range("--init-config", self.init_config, 0, self.servers)
        _in_range("--max-changes", self.max_changes, 0, 20)
        _in_range("--candidates", self.candidates, 0, self.servers)
        if not self.membership:
            for flag, given in (
                ("--init-config", self.init_config),
                ("--max-changes", self.max_changes != 1),
                ("--candidates", self.candidates),
                ("--catch-up", self.catch_up),
                ("--stand-until-removed", self.stand_until_removed),
            ):
                if given:
                    raise ValueError(f"{flag} needs --membership")
        if self.snapshots and not self.batch:
            raise ValueError("--snapshots needs --batch (a leader anchors at its snapshot)")
        if self.extended and self.history:
            raise ValueError("--history covers raft.tla's actions only, not the options")
        if self.mutant is not None:
            if not isinstance(self.mutant, Mutant):
                known = ", ".join(sorted(Mutant))
                raise ValueError(f"--mutant: unknown mutant {self.mutant!r} (known: {known})")

    def describe(self) -> dict[str, object]:
        """The parameters as a JSON object."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _in_range(flag: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{flag} must be an integer (got {value!r})")
    if not low <= value <= high:
        raise ValueError(f"{flag} must be between {low} and {high} (got {value})")
