"""The in-memory Raft log of the core: a snapshot position followed by the entries after it.

The core keeps its whole uncompacted log in memory; storage holds the durable copy. Indices are
1-based; ``(snapshot_index, snapshot_term)`` plays the role of the paper's entry 0 (``(0, 0)``
before any compaction).
"""

from __future__ import annotations

from .messages import Entry


class RaftLog:
    """Entries ``snapshot_index + 1 .. last_index`` plus the term of the snapshot's last entry."""

    __slots__ = ("snapshot_index", "snapshot_term", "_entries")

    def __init__(
        self, snapshot_index: int = 0, snapshot_term: int = 0, entries: tuple[Entry, ...] = ()
    ) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._entries: list[Entry] = []
        for e in entries:
            if e.index <= snapshot_index:
                continue  # storage may still hold entries covered by the snapshot
            if e.index != self.last_index + 1:
                raise ValueError(f"log: entry index {e.index} follows {self.last_index}")
            self._entries.append(e)

    @property
    def last_index(self) -> int:
        """Index of the last entry (the snapshot's index if no entries follow it)."""
        return self.snapshot_index + len(self._entries)

    @property
    def last_term(self) -> int:
        """Term of the last entry."""
        return self._entries[-1].term if self._entries else self.snapshot_term

    def term_at(self, index: int) -> int | None:
        """Term of the entry at ``index``; None if compacted away (below the snapshot) or beyond
        the end. The snapshot's own index answers with the snapshot's term."""
        if index == self.snapshot_index:
            return self.snapshot_term
        if index < self.snapshot_index or index > self.last_index:
            return None
        return self._entries[index - self.snapshot_index - 1].term

    def entry(self, index: int) -> Entry:
        """The entry at ``index``; IndexError if it is not held."""
        if index <= self.snapshot_index or index > self.last_index:
            raise IndexError(
                f"log: no entry {index} (have {self.snapshot_index + 1}..{self.last_index})"
            )
        return self._entries[index - self.snapshot_index - 1]

    def slice(
        self, lo: int, hi: int, max_count: int | None = None, max_bytes: int | None = None
    ) -> tuple[Entry, ...]:
        """Entries ``lo .. hi`` inclusive, cut after ``max_count`` entries or once ``max_bytes``
        is reached (always at least one entry, so a huge entry still makes progress)."""
        if lo <= self.snapshot_index:
            raise IndexError(f"log: entry {lo} was compacted (snapshot at {self.snapshot_index})")
        hi = min(hi, self.last_index)
        if max_count is not None:
            hi = min(hi, lo + max_count - 1)
        out = self._entries[lo - self.snapshot_index - 1 : hi - self.snapshot_index]
        if max_bytes is not None and out:
            total = 0
            for n, e in enumerate(out):
                total += e.size()
                if total > max_bytes and n > 0:
                    out = out[:n]
                    break
        return tuple(out)

    def matches(self, index: int, term: int) -> bool:
        """True if the log holds ``(index, term)``: Figure 2's consistency check."""
        return self.term_at(index) == term

    def first_index_of_term(self, index: int) -> int:
        """First index of the run of entries with the same term as ``index`` (not below the
        snapshot). Used for the conflict hint of a rejection."""
        term = self.term_at(index)
        while index - 1 > self.snapshot_index and self.term_at(index - 1) == term:
            index -= 1
        return index

    def last_index_of_term(self, term: int) -> int:
        """Last index holding an entry of ``term``, or 0 if there is none (leader side of the
        fast back-off)."""
        for e in reversed(self._entries):
            if e.term == term:
                return e.index
            if e.term < term:
                return 0
        return self.snapshot_index if self.snapshot_term == term else 0

    def append(self, entries: tuple[Entry, ...] | list[Entry]) -> None:
        """Append entries that must directly follow the last one."""
        for e in entries:
            if e.index != self.last_index + 1:
                raise ValueError(f"log: entry index {e.index} cannot follow {self.last_index}")
            self._entries.append(e)

    def truncate_from(self, index: int) -> None:
        """Remove entries ``index ..``."""
        if index <= self.snapshot_index:
            raise ValueError(
                f"log: cannot truncate at {index}, at or below snapshot {self.snapshot_index}"
            )
        del self._entries[index - self.snapshot_index - 1 :]

    def compact(self, index: int, term: int) -> None:
        """Drop entries up to ``index`` (now covered by a snapshot whose last entry has ``term``).
        If the log does not hold a matching entry at ``index`` the whole log is discarded."""
        if index <= self.snapshot_index:
            return
        if self.term_at(index) == term:
            del self._entries[: index - self.snapshot_index]
        else:
            self._entries.clear()
        self.snapshot_index = index
        self.snapshot_term = term

    def entries(self) -> tuple[Entry, ...]:
        """Every entry after the snapshot."""
        return tuple(self._entries)

    def terms(self) -> list[int]:
        """Terms of entries 1..last_index, with 0 for compacted ones (test helper)."""
        return [0] * self.snapshot_index + [e.term for e in self._entries]
