"""What a step is: an action of ``Next`` with its arguments, and how ``Next`` lists its actions.

raft.tla's ``Next`` is a disjunction of actions, each quantified over its arguments
(``\\E i, j \\in Server : RequestVote(i, j)``). Here ``Next`` is a table of :class:`ActionDef`
rows, one per disjunct, in raft.tla's order; ``next.py`` walks it. A step's label is an
:class:`Action`: the action's name and the arguments it was taken with. Everything that shows
or reads a step (the checker's output, the pictures, Z3, conformance) goes through these two
records, so an action added to the table is picked up everywhere.

Three kinds of rows, by what a step may read and write (the compiled model relies on it):

* ``LOCAL``: server ``i`` acts on its own variables and may send one message
  (Timeout, RequestVote, BecomeLeader, ...). The first argument is ``i``.
* ``RECEIVE``: one alternative of raft.tla's ``Receive(m)``: server ``i = m.mdest`` handles
  message ``m`` from ``j = m.msource`` (UpdateTerm, DropStaleResponse, each handler and each
  branch of a handler). Every enabled alternative is a successor of its own, as TLC explores
  every enabled disjunct: nothing here relies on the guards being disjoint.
* ``NETWORK``: the network acts on one message and no server (DuplicateMessage, DropMessage).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter
from typing import Any

from .params import Params
from .state import Message, MType, State, message_brief, server_name


class Kind(Enum):
    """What a step of an action may read and write."""

    LOCAL = "local"
    RECEIVE = "receive"
    NETWORK = "network"


class Arg(Enum):
    """The kind of an action's argument, which says how to show it."""

    SERVER = "server"
    VALUE = "value"
    INDEX = "index"
    FLAG = "flag"
    MESSAGE = "message"


class Action(tuple):
    """A step's label: an action's name and its arguments, e.g. ``RequestVote(s1, s2)``.

    It is the tuple ``(name, *args)``, so it hashes, compares and pickles as the plain labels of
    the checker's protocol do (``("RequestVote", 0, 1)``); the names below read it.
    """

    __slots__ = ()

    def __new__(cls, name: str, *args: Any) -> Action:
        return tuple.__new__(cls, (name, *args))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    name: str = property(itemgetter(0))  # type: ignore[assignment]

    @property
    def args(self) -> tuple[Any, ...]:
        """The arguments, in the order of the action's parameters."""
        return tuple(self[1:])

    @property
    def kind(self) -> Kind:
        return definition(self).kind

    @property
    def server(self) -> int | None:
        """The server that steps: the actor of a local step, the receiver of a message; None
        for a step of the network."""
        return None if self.kind is Kind.NETWORK else self[1]

    @property
    def sender(self) -> int | None:
        """The sender of the message a step reads (None for a local step)."""
        m = self.message
        return None if m is None else m.msource

    @property
    def message(self) -> Message | None:
        """The message a receive or network step reads (None for a local step)."""
        kind = self.kind
        if kind is Kind.LOCAL:
            return None
        return self[-1]

    def __str__(self) -> str:
        d = definition(self)
        if d.format is not None:
            return d.format(self)
        if d.kind is Kind.RECEIVE or d.kind is Kind.NETWORK:
            return f"{self.name}({message_brief(self[-1])})"
        shown = ", ".join(_show(kind, value) for kind, value in zip(d.args, self[1:], strict=True))
        return f"{self.name}({shown})"

    def __repr__(self) -> str:
        return f"Action{tuple.__repr__(self)}"


def _show(kind: Arg, value: Any) -> str:
    if kind is Arg.SERVER:
        return server_name(value)
    if kind is Arg.VALUE:
        return f"v{value}"
    if kind is Arg.MESSAGE:
        return message_brief(value)
    return str(value)


#: How a local action's arguments after ``i`` are enumerated in a state: ``(p, s, i)`` to the
#: tuples of the remaining arguments.
ArgsOf = Callable[[Params, State, int], Iterable[tuple[Any, ...]]]


def no_args(p: Params, s: State, i: int) -> Iterable[tuple[()]]:
    """``\\E i \\in Server : A(i)``: nothing after ``i``."""
    return ((),)


def each_server(p: Params, s: State, i: int) -> Iterable[tuple[int]]:
    """``\\E i, j \\in Server : A(i, j)``: every ``j``, ``i`` itself included."""
    return [(j,) for j in range(p.servers)]


def each_value(p: Params, s: State, i: int) -> Iterable[tuple[int]]:
    """``\\E i \\in Server, v \\in Value : A(i, v)``."""
    return [(v,) for v in range(1, p.values + 1)]


@dataclass(frozen=True)
class ActionDef:
    """One disjunct of ``Next``.

    ``fn`` is the action: ``fn(p, s, i, *rest)`` for a local action, ``fn(p, s, i, j, m)`` for
    an alternative of Receive, ``fn(p, s, m)`` for the network; it returns the next state, or
    None when the action is not enabled. ``args`` lists the argument kinds after ``p, s``.
    """

    name: str
    kind: Kind
    fn: Callable[..., State | None]
    args: tuple[Arg, ...]
    #: Local actions: the arguments after ``i`` to try in a state.
    each: ArgsOf = no_args
    #: Receive alternatives: the message types it handles (raft.tla's ``m.mtype = ...``).
    mtypes: frozenset[MType] = frozenset()
    #: A fault of the environment (left out of Next without ``faults``).
    fault: bool = False
    #: A label for people, when the argument kinds do not say enough.
    format: Callable[[Action], str] | None = None


def local(name: str, fn: Callable[..., State | None], *args: Arg, each: ArgsOf = no_args,
          fault: bool = False, fmt: Callable[[Action], str] | None = None) -> ActionDef:
    """A row for server ``i``'s own step; ``args`` are its kinds, ``i`` first."""
    return ActionDef(name, Kind.LOCAL, fn, (Arg.SERVER, *args), each, fault=fault, format=fmt)


def receiving(name: str, fn: Callable[..., State | None], *mtypes: MType) -> ActionDef:
    """A row for one alternative of Receive(m), for messages of ``mtypes``."""
    return ActionDef(
        name, Kind.RECEIVE, fn, (Arg.SERVER, Arg.SERVER, Arg.MESSAGE), mtypes=frozenset(mtypes)
    )


def network(name: str, fn: Callable[..., State | None]) -> ActionDef:
    """A row for a step of the network on one message (a fault)."""
    return ActionDef(name, Kind.NETWORK, fn, (Arg.MESSAGE,), fault=True)


# Every row of every table, by (name, number of arguments): how an Action finds its definition
# (options may define an action of raft.tla's name with other arguments, e.g. AppendEntries).
_DEFS: dict[tuple[str, int], ActionDef] = {}


def register(rows: Iterable[ActionDef]) -> tuple[ActionDef, ...]:
    """Make ``rows`` known to :class:`Action` (for showing labels) and return them."""
    rows = tuple(rows)
    for d in rows:
        _DEFS.setdefault((d.name, len(d.args)), d)
    return rows


def definition(action: tuple[Any, ...]) -> ActionDef:
    """The row an action label comes from."""
    try:
        return _DEFS[(action[0], len(action) - 1)]
    except KeyError:
        raise KeyError(f"no action {action[0]!r} with {len(action) - 1} arguments") from None
