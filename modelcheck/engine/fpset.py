"""Compact storage for long searches: a fingerprint table, a spilling frontier, parent links.

Python objects cost ~100-160 bytes per state in a ``set`` of ints; a search of a hundred million
states needs its seen-set near 8-16 bytes per state. So:

* :class:`FingerprintSet` keeps 64-bit fingerprints in one numpy array with open addressing
  (linear probing) and inserts a whole batch per call, so the per-state Python work is one list
  append in the caller. It grows by 1.6x at 80 % load to 50 %: 10-16 bytes per state.
* :class:`Frontier` keeps a breadth-first level as lists of states and pickles whole lists to a
  file once it holds more states than its budget; it reads them back in order.
* :class:`ParentLog` appends each new state's fingerprint and its parent's index (16 bytes) to
  two files, so a counterexample can be rebuilt without keeping parent links in memory.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

# Fibonacci hashing: spreads fingerprints whose low bits are poorly mixed over the whole table.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SHIFT32 = np.uint64(32)


class FingerprintSet:
    """A set of nonzero 64-bit fingerprints in a numpy open-addressing table."""

    MAX_LOAD = 0.8
    MIN_LOAD = 0.5

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._table = np.zeros(max(capacity, 16), dtype=np.uint64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held by the table."""
        return self._table.nbytes

    def _slots(self, fps: np.ndarray, size: int) -> np.ndarray:
        # The high 32 bits of the mixed fingerprint, scaled to the table (Lemire's reduction):
        # any size works, so growth need not double, and bytes per state stay within 10-16.
        mixed = (fps * _GOLDEN) >> _SHIFT32
        return (mixed * np.uint64(size)) >> _SHIFT32

    def _insert(self, fps: np.ndarray, distinct: bool = False) -> np.ndarray:
        """Insert fingerprints (nonzero, repeats allowed unless ``distinct``); True at the
        first occurrence of each one that was not yet in the table."""
        out = np.zeros(fps.shape[0], dtype=bool)
        # Bounded pieces: a probe window per fingerprint costs W slots of memory.
        for k in range(0, fps.shape[0], _PIECE):
            out[k : k + _PIECE] = self._insert_piece(fps[k : k + _PIECE], distinct)
        return out

    def _insert_piece(self, fps: np.ndarray, distinct: bool = False) -> np.ndarray:
        # Linear probing at 50-80 % load: most fingerprints stop within a few slots of home
        # (already there, or an empty slot to claim), so the first rounds look at one slot per
        # fingerprint with plain gathers on a shrinking set; the few left after them go through
        # the windowed rounds of _probe, which long clusters need.
        table = self._table
        size = table.shape[0]
        new = np.zeros(fps.shape[0], dtype=bool)
        pos = np.arange(fps.shape[0])
        f = fps
        i = self._slots(fps, size).astype(np.int64)
        for _ in range(_SINGLE_ROUNDS):
            cur = table[i]
            empty = np.flatnonzero(cur == 0)
            if empty.shape[0]:
                self._claim(pos[empty], i[empty], f[empty], new, distinct)
                # Only slots that were empty were written, and every fingerprint looking at
                # one of them is among the claimants. A lost claim now sees another
                # fingerprint there and moves on.
                cur[empty] = table[i[empty]]
            on = np.flatnonzero(cur != f)
            if not on.shape[0]:
                return new
            pos = pos[on]
            f = f[on]
            i = i[on] + 1
            i[i == size] = 0
        self._probe(pos, f, i, new, distinct)
        return new

    def _claim(
        self,
        pos: np.ndarray,
        slot: np.ndarray,
        f: np.ndarray,
        new: np.ndarray,
        distinct: bool = False,
    ) -> np.ndarray:
        """Write ``f`` into the empty slots ``slot``; marks the first occurrence of each
        fingerprint that landed as new and returns which claims landed (with ``distinct``,
        no fingerprint occurs twice, and every one that landed is new)."""
        # Several different fingerprints may claim one empty slot: one write lands. Equal
        # fingerprints claim the same slot and all land: the first occurrence is the new one.
        table = self._table
        table[slot] = f
        won = table[slot] == f
        if distinct:
            new[pos[won]] = True
        elif won.any():
            _u, first_win = np.unique(slot[won], return_index=True)
            new[pos[won][first_win]] = True
        return won

    def _probe(
        self, pos: np.ndarray, f: np.ndarray, i: np.ndarray, new: np.ndarray, distinct: bool
    ) -> None:
        # Each round looks at a window of W consecutive slots per fingerprint and stops at the
        # first slot holding it (present) or empty (claim it). Windows grow round by round, since
        # walking a long cluster one slot per round took ~70 rounds of a dozen numpy calls.
        size = self._table.shape[0]
        width = 4
        while pos.shape[0]:
            idx, cur = self._window(i, width)
            w = idx.shape[1]
            stop = (cur == f[:, None]) | (cur == 0)
            first = stop.argmax(axis=1)
            rows = np.arange(pos.shape[0])
            stopped = stop[rows, first]
            slot = idx[rows, first]
            claim = stopped & (cur[rows, first] == 0)
            keep = ~stopped
            if claim.any():
                won = self._claim(pos[claim], slot[claim], f[claim], new, distinct)
                keep[np.flatnonzero(claim)[~won]] = True
            if not keep.any():
                break
            nxt = np.where(stopped, slot, i + w)
            nxt[nxt >= size] -= size
            pos = pos[keep]
            f = f[keep]
            i = nxt[keep]
            width = min(width * 4, 256)

    def _window(self, i: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """For each start slot in ``i``: the ``width`` slots from it on (wrapping round the
        table, at most the whole table) and the fingerprints they hold."""
        size = self._table.shape[0]
        idx = i[:, None] + np.arange(min(width, size))
        idx[idx >= size] -= size
        return idx, self._table[idx]

    def _contains(self, fps: np.ndarray) -> np.ndarray:
        """Which of ``fps`` (nonzero) are in the table, without inserting any."""
        # Without deletions a fingerprint sits after its home slot with no empty slot between:
        # a window holding it says present, a window holding an empty slot first says absent.
        size = self._table.shape[0]
        found = np.zeros(fps.shape[0], dtype=bool)
        pos = np.arange(fps.shape[0])
        f = fps
        i = self._slots(fps, size).astype(np.int64)
        width = 4
        while pos.shape[0]:
            idx, cur = self._window(i, width)
            w = idx.shape[1]
            hit = (cur == f[:, None]).any(axis=1)
            found[pos[hit]] = True
            keep = ~(hit | (cur == 0).any(axis=1))
            pos = pos[keep]
            f = f[keep]
            i = (i[keep] + w) % size
            width = min(width * 4, 256)
        return found

    def _grow(self, needed: int) -> None:
        old = self._table
        size = int(needed / self.MIN_LOAD) + 16
        self._table = np.zeros(size, dtype=np.uint64)
        present = old[old != 0]
        if present.shape[0]:
            self._insert(present, distinct=True)

    def add_batch(self, fps: np.ndarray) -> np.ndarray:
        """Add a batch of fingerprints (uint64); True at the first occurrence of each new one.

        Zero marks an empty slot, so a zero fingerprint is stored as 1 (a collision as likely
        as any other).
        """
        fps = np.where(fps == 0, np.uint64(1), fps)
        size = self._table.shape[0]
        if self._count + fps.shape[0] > self.MAX_LOAD * size:
            # The batch might take the table past its load: grow now (growing only once the
            # real count gets there would run the table fuller, measured ~5 % slower on E),
            # but by the fingerprints really new, most of a search's batch being repeats or
            # already stored: sized by the batch, the table overshot (a small one far beyond
            # its load), and bytes per state broke their bound of 16 (16.5 in a benchmark row).
            # Sized so, the table holds 16 bytes per state just after it grows, fewer after.
            # Distinct values by a sort: np.unique would import numpy.ma on its first call
            # (30 ms, in the search).
            srt = np.sort(fps)
            distinct = srt[np.concatenate(([True], srt[1:] != srt[:-1]))]
            fresh = int(np.count_nonzero(~self._contains(distinct)))
            if (self._count + fresh) / self.MIN_LOAD + 16 > size:
                self._grow(self._count + fresh)
        new = self._insert(fps)
        self._count += int(np.count_nonzero(new))
        return new


#: Fingerprints inserted per vectorised piece (bounds the probe windows' memory).
_PIECE = 1 << 15
#: Rounds of one slot per fingerprint before the windowed rounds.
_SINGLE_ROUNDS = 8


class Frontier:
    """One breadth-first level: states in discovery order, spilled to disk beyond a budget."""

    def __init__(self, budget: int, spill_dir: str) -> None:
        self.budget = budget
        self._dir = spill_dir
        self._mem: list[Any] = []
        self._file: BinaryIO | None = None
        self._path = ""
        self._spilled = 0
        self.spilled_total = 0

    def __len__(self) -> int:
        return self._spilled + len(self._mem)

    def extend(self, states: list[Any]) -> None:
        """Append states at the end of the level."""
        self._mem.extend(states)
        if len(self._mem) > self.budget:
            if self._file is None:
                fd, self._path = _mkstemp(self._dir, "frontier")
                self._file = os.fdopen(fd, "w+b")
            pickle.dump(self._mem, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._spilled += len(self._mem)
            self.spilled_total += len(self._mem)
            self._mem = []

    def chunks(self, size: int) -> Iterator[list[Any]]:
        """The states in order, ``size`` at a time; the frontier is consumed."""
        if self._file is not None:
            f = self._file
            f.flush()
            f.seek(0)
            while True:
                try:
                    block = pickle.load(f)
                except EOFError:
                    break
                for k in range(0, len(block), size):
                    yield block[k : k + size]
            f.close()
            os.unlink(self._path)
            self._file = None
        self._spilled = 0
        mem = self._mem
        self._mem = []
        for k in range(0, len(mem), size):
            yield mem[k : k + size]

    def close(self) -> None:
        """Delete any spill file."""
        if self._file is not None:
            self._file.close()
            os.unlink(self._path)
            self._file = None


def _mkstemp(directory: str, prefix: str) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix=prefix + "-", dir=directory)


class ParentLog:
    """For every distinct state in discovery order: its fingerprint and its parent's index.

    Kept in two files (8 bytes each per state) rather than in memory; -1 is the parent of an
    initial state.
    """

    def __init__(self, directory: str) -> None:
        fd, self._fp_path = _mkstemp(directory, "fingerprints")
        self._fps = os.fdopen(fd, "wb")
        fd, self._parent_path = _mkstemp(directory, "parents")
        self._parents = os.fdopen(fd, "wb")
        self.count = 0

    def append(self, fps: np.ndarray, parents: np.ndarray) -> None:
        """Record new states (their fingerprints, uint64, and parents' indexes, int64)."""
        self._fps.write(fps.astype(np.uint64, copy=False).tobytes())
        self._parents.write(parents.astype(np.int64, copy=False).tobytes())
        self.count += fps.shape[0]

    def chain(self, index: int) -> list[int]:
        """Fingerprints from an initial state down to state ``index``, both included."""
        self._fps.flush()
        self._parents.flush()
        fps = np.fromfile(self._fp_path, dtype=np.uint64)
        parents = np.fromfile(self._parent_path, dtype=np.int64)
        out = []
        while index >= 0:
            out.append(int(fps[index]))
            index = int(parents[index])
        out.reverse()
        return out

    def close(self) -> None:
        """Delete the files."""
        for f, path in ((self._fps, self._fp_path), (self._parents, self._parent_path)):
            f.close()
            if os.path.exists(path):
                os.unlink(path)
