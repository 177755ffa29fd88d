"""Storage against a model, through random appends, overwrites, truncations, hard-state
changes, compactions, snapshots from a leader, clean crashes and crashes in the middle of a
write: after every restart the log is exactly what was durable, plus the complete records of
a write that was cut short."""

from __future__ import annotations

import os
import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from raftkit.impl.storage import HardState, Snapshot, Storage, StoredEntry


class Model:
    def __init__(self) -> None:
        self.term, self.vote = 0, None
        self.base = (0, 0)
        self.entries: list[tuple[int, int, bytes]] = []

    def copy(self) -> Model:
        m = Model()
        m.term, m.vote, m.base, m.entries = self.term, self.vote, self.base, list(self.entries)
        return m

    @property
    def last(self) -> int:
        return self.base[0] + len(self.entries)

    def last_term(self) -> int:
        return self.entries[-1][1] if self.entries else self.base[1]

    def term_at(self, i: int) -> int | None:
        if i == self.base[0]:
            return self.base[1]
        if self.base[0] < i <= self.last:
            return self.entries[i - self.base[0] - 1][1]
        return None

    def put(self, e: tuple[int, int, bytes]) -> None:
        del self.entries[e[0] - self.base[0] - 1 :]
        self.entries.append(e)


def image(s: Storage) -> tuple:
    hs = s.hard_state
    base = (s.state.base.index, s.state.base.term)
    return hs.term, hs.vote, base, [(e.index, e.term, e.data) for e in s.entries]


def model_image(m: Model) -> tuple:
    return m.term, m.vote, m.base, list(m.entries)


class StorageMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="raftkit-storage-")
        self.st = Storage.open(self.dir, fsync=False)
        self.mem = Model()  # what the open storage holds
        self.durable = Model()  # what survives a crash
        self.pending: list[Model] = []  # the model after each buffered record
        self.n = 0

    def teardown(self) -> None:
        self._abandon()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _abandon(self) -> None:
        # Drop the Storage object the way a crash does: no flush, just the descriptors.
        if self.st._fd is not None:
            os.close(self.st._fd)
            self.st._fd = None
        if self.st._lock_fd is not None:
            os.close(self.st._lock_fd)
            self.st._lock_fd = None

    def _record(self) -> None:
        self.pending.append(self.mem.copy())

    @rule(bump=st.integers(0, 2))
    def append(self, bump: int) -> None:
        self.n += 1
        e = (self.mem.last + 1, self.mem.last_term() + bump or 1, f"e{self.n}".encode())
        self.st.append([StoredEntry(*e)])
        self.mem.put(e)
        self._record()

    @precondition(lambda self: self.mem.entries)
    @rule(data=st.data())
    def overwrite(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(self.mem.base[0] + 1, self.mem.last))
        term = max(self.mem.last_term(), 1) + 1
        self.n += 1
        e = (i, term, f"o{self.n}".encode())
        self.st.append([StoredEntry(*e)])
        self.mem.put(e)
        self._record()

    @precondition(lambda self: self.mem.entries)
    @rule(data=st.data())
    def truncate(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(self.mem.base[0] + 1, self.mem.last))
        self.st.truncate_suffix(i)
        del self.mem.entries[i - self.mem.base[0] - 1 :]
        self._record()

    @rule(bump=st.integers(0, 1), vote=st.sampled_from([None, "a", "b"]))
    def hard_state(self, bump: int, vote: str | None) -> None:
        term = self.mem.term + bump
        if (term, vote) == (self.mem.term, self.mem.vote):
            return
        self.st.set_hard_state(HardState(term, vote, 0))
        self.mem.term, self.mem.vote = term, vote
        self._record()

    @rule()
    def sync(self) -> None:
        self.st.sync()
        self.durable = self.mem.copy()
        self.pending.clear()

    @precondition(lambda self: self.mem.entries)
    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(self.mem.base[0] + 1, self.mem.last))
        t = self.mem.term_at(i)
        assert t is not None
        self.st.save_snapshot(Snapshot(i, t, b"snap"))
        self.mem.entries = [e for e in self.mem.entries if e[0] > i]
        self.mem.base = (i, t)
        self.durable = self.mem.copy()  # compaction syncs and rewrites
        self.pending.clear()

    @rule(ahead=st.integers(1, 3))
    def snapshot_from_leader(self, ahead: int) -> None:
        i = self.mem.last + ahead
        t = max(self.mem.last_term(), 1) + 1
        self.st.save_snapshot(Snapshot(i, t, b"leader"))
        self.mem.entries, self.mem.base = [], (i, t)
        self.durable = self.mem.copy()
        self.pending.clear()

    @rule()
    def crash(self) -> None:
        self._abandon()
        self.mem = self.durable.copy()
        self.pending.clear()
        self._reopen()

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def crash_mid_write(self, data: st.DataObject) -> None:
        records = list(self.st._pending)
        assert len(records) == len(self.pending)
        blob = b"".join(records)
        cut = data.draw(st.integers(0, len(blob)))
        with open(self.st.wal_path, "ab") as f:
            f.write(blob[:cut])
        complete, end = 0, 0
        for r in records:
            if end + len(r) > cut:
                break
            complete += 1
            end += len(r)
        self._abandon()
        self.mem = (self.pending[complete - 1] if complete else self.durable).copy()
        self.durable = self.mem.copy()
        self.pending.clear()
        self._reopen()

    def _reopen(self) -> None:
        self.st = Storage.open(self.dir, fsync=False)

    @invariant()
    def storage_matches_model(self) -> None:
        assert image(self.st) == model_image(self.mem)


TestStorageMachine = StorageMachine.TestCase
TestStorageMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
