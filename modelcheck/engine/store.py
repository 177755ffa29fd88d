"""Seen-sets: what the search remembers about every distinct state it has found.

A store maps a state's *key* to its parent's key, so a counterexample can be rebuilt by walking
back to an initial state. Two stores share that shape and differ only in what a key is:

* :class:`FingerprintStore` (the default) keys a state by the 64-bit ``hash()`` of its canonical
  form, as TLC keys states by fingerprint. Small and fast, at a tiny risk that two different
  states share a fingerprint and one of them is never explored; :func:`collision_probability`
  estimates that risk.
* :class:`ExactStore` keys a state by its canonical form itself. It cannot collide, costs two to
  three times the memory, and exists so tests can check the fingerprint store against it.

The engine reads ``store.parents`` and ``store.key`` directly in its hot loop rather than
calling a method per state: a Python-level call per generated state is a measurable cost.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final, Protocol


class _Root:
    """The parent of an initial state; a singleton that no state key can equal."""

    _instance: _Root | None = None

    def __new__(cls) -> _Root:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ROOT"


ROOT: Final = _Root()


class Store(Protocol):
    """What the engine needs from a seen-set."""

    #: A short name for summaries ("fingerprint" or "exact").
    name: str
    #: True when keys are whole canonical states, so collisions are impossible.
    exact: bool
    #: Key of every distinct state found -> key of the state it was first reached from
    #: (:data:`ROOT` for initial states).
    parents: dict[Hashable, Hashable]
    #: Turns a canonical state into its key.
    key: Callable[[Hashable], Hashable]


def _identity(canonical: Hashable) -> Hashable:
    return canonical


class FingerprintStore:
    """Keys are ``hash(canonical_state)``: a 64-bit int per state, as TLC's fingerprints."""

    name = "fingerprint"
    exact = False

    def __init__(self) -> None:
        self.parents: dict[Hashable, Hashable] = {}
        # The builtin itself, not a wrapper: the engine calls it once per in-bounds successor.
        self.key: Callable[[Hashable], Hashable] = hash


class ExactStore:
    """Keys are the canonical states themselves: no collisions, more memory. For cross-checks."""

    name = "exact"
    exact = True

    def __init__(self) -> None:
        self.parents: dict[Hashable, Hashable] = {}
        self.key: Callable[[Hashable], Hashable] = _identity


def make_store(kind: str) -> Store:
    """A fresh store by name: ``"fingerprint"`` or ``"exact"``."""
    if kind == "fingerprint":
        return FingerprintStore()
    if kind == "exact":
        return ExactStore()
    raise ValueError(f"unknown store {kind!r} (expected 'fingerprint' or 'exact')")


def chain(store: Store, key: Hashable) -> list[Hashable]:
    """The keys from an initial state down to ``key`` (both included), following parent links."""
    parents = store.parents
    path = [key]
    parent = parents[key]
    while parent is not ROOT:
        path.append(parent)
        parent = parents[parent]
    path.reverse()
    return path


def collision_probability(distinct: int) -> float:
    """Chance that at least two of ``distinct`` random 64-bit fingerprints coincide.

    This is the birthday estimate n(n-1)/2 / 2**64, optimistic in the same way as TLC's
    ("calculated (optimistic)") figure: it assumes fingerprints are uniformly random. TLC itself
    prints n(g-n) / 2**64 with g the states generated, which counts each look-up of an already
    seen state as a chance to mistake a new state for it; :func:`lookup_collision_probability`
    gives that one.
    """
    return distinct * (distinct - 1) / 2 / 2.0**64


def lookup_collision_probability(distinct: int, generated: int) -> float:
    """TLC's optimistic figure n(g-n) / 2**64 (n distinct, g generated)."""
    return distinct * max(generated - distinct, 0) / 2.0**64
