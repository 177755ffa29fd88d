"""Storage: round trips, truncation, compaction, and what damage at every byte does."""

from __future__ import annotations

import os

import pytest
from raftkit.impl.storage import (
    HardState,
    Snapshot,
    Storage,
    StorageCorruption,
    StoredEntry,
    read_snapshot,
)


def E(index: int, term: int, data: bytes = b"") -> StoredEntry:
    return StoredEntry(index, term, data or f"v{index}.{term}".encode())


def image(st: Storage) -> tuple:
    hs = st.hard_state
    return (hs.term, hs.vote, hs.commit, [(e.index, e.term, e.data) for e in st.entries])


def test_round_trip(tmp_path):
    st = Storage.open(str(tmp_path))
    st.save(HardState(2, "n1", 0), [E(1, 1), E(2, 2), E(3, 2)])
    st.save(HardState(2, "n1", 3), [])
    before = image(st)
    st.close()
    again = Storage.open(str(tmp_path))
    assert image(again) == before == (2, "n1", 3, before[3])
    assert again.last_index == 3 and again.first_index == 1


def test_conflicting_append_replaces_suffix_durably(tmp_path):
    st = Storage.open(str(tmp_path))
    st.save(HardState(2, None, 0), [E(1, 1), E(2, 1), E(3, 1), E(4, 1)])
    st.save(HardState(3, "n2", 0), [E(3, 3, b"new3")])
    assert [(e.index, e.term) for e in st.entries] == [(1, 1), (2, 1), (3, 3)]
    st.close()
    again = Storage.open(str(tmp_path))
    assert [(e.index, e.term, e.data) for e in again.entries][-1] == (3, 3, b"new3")
    assert again.last_index == 3


def test_append_with_gap_is_refused(tmp_path):
    st = Storage.open(str(tmp_path))
    st.save(None, [E(1, 1)])
    with pytest.raises(ValueError, match="gap"):
        st.append([E(3, 1)])


def test_snapshot_compacts_and_survives_restart(tmp_path):
    st = Storage.open(str(tmp_path))
    st.save(HardState(1, "a", 5), [E(i, 1) for i in range(1, 11)])
    st.save_snapshot(Snapshot(6, 1, b"state-at-6", {"peers": ["a", "b", "c"]}))
    assert st.first_index == 7 and st.last_index == 10
    st.save(None, [E(11, 1)])
    st.close()
    again = Storage.open(str(tmp_path))
    assert again.first_index == 7 and again.last_index == 11
    assert again.snapshot is not None and again.snapshot.data == b"state-at-6"
    assert again.snapshot.meta == {"peers": ["a", "b", "c"]}
    assert again.hard_state == HardState(1, "a", 5)
    assert again.state.term_at(6) == 1


def test_snapshot_from_leader_that_disagrees_replaces_log(tmp_path):
    st = Storage.open(str(tmp_path))
    st.save(HardState(1, None, 0), [E(i, 1) for i in range(1, 6)])
    st.save_snapshot(Snapshot(8, 4, b"leader-state"))
    assert st.entries == [] and st.last_index == 8
    st.close()
    again = Storage.open(str(tmp_path))
    assert again.last_index == 8 and again.entries == []
    again.save(None, [E(9, 4)])
    assert again.last_index == 9


def test_crash_between_snapshot_and_compaction(tmp_path):
    from raftkit.impl.storage import write_snapshot

    st = Storage.open(str(tmp_path))
    st.save(HardState(1, None, 4), [E(i, 1) for i in range(1, 6)])
    st.close()
    # The snapshot made it to disk but the WAL rewrite did not happen.
    write_snapshot(os.path.join(str(tmp_path), "snapshot"), Snapshot(3, 1, b"s3"))
    with open(os.path.join(str(tmp_path), "wal.tmp"), "wb") as f:
        f.write(b"half a rewrite")
    again = Storage.open(str(tmp_path))
    assert again.first_index == 4 and again.last_index == 5
    assert not os.path.exists(os.path.join(str(tmp_path), "wal.tmp"))


def _build_small_log(path: str) -> tuple[bytes, list[tuple[int, tuple]]]:
    """One record per sync, so every sync ends at a record boundary. Returns the WAL bytes and,
    for each boundary, (file size, expected image) worked out independently of the reader."""
    st = Storage.open(path)
    wal = st.wal_path
    points = [(os.path.getsize(wal), (0, None, 0, []))]
    term, vote, commit, log = 0, None, 0, []

    def step(hs=None, entries=()):
        nonlocal term, vote, commit, log
        st.save(hs, entries)
        if hs is not None:
            term, vote, commit = hs.term, hs.vote, hs.commit
        for e in entries:
            log = [x for x in log if x[0] < e.index] + [(e.index, e.term, e.data)]
        points.append((os.path.getsize(wal), (term, vote, commit, list(log))))

    step(HardState(1, "n1", 0))
    step(entries=[E(1, 1)])
    step(entries=[E(2, 1)])
    step(entries=[E(3, 1)])
    step(HardState(2, "n2", 1))
    step(entries=[E(3, 2, b"replaced")])
    step(entries=[E(4, 2)])
    st.close()
    with open(wal, "rb") as f:
        return f.read(), points


def test_truncation_at_every_length_recovers_exactly_the_complete_prefix(tmp_path):
    data, points = _build_small_log(str(tmp_path / "orig"))
    assert len(points) == 8
    for cut in range(len(data) + 1):
        d = tmp_path / f"cut{cut}"
        d.mkdir()
        (d / "wal").write_bytes(data[:cut])
        st = Storage.open(str(d))
        # A WAL cut inside its 8-byte file header holds nothing yet: it is rewritten empty.
        size, expected = max((p for p in points if p[0] <= max(cut, 8)), key=lambda p: p[0])
        assert image(st) == expected, f"cut at {cut}"
        # The torn tail is gone from disk, and the log keeps working after it.
        assert os.path.getsize(d / "wal") == size
        st.save(HardState(9, "x", 0), [E(st.last_index + 1, 9)])
        st.close()
        again = Storage.open(str(d))
        assert again.hard_state.term == 9
        assert again.last_index == len(expected[3]) + 1
        again.close()


def test_flipped_byte_anywhere_stops_with_file_and_offset(tmp_path):
    data, _ = _build_small_log(str(tmp_path / "orig"))
    for pos in range(len(data)):
        for mask in (0xFF, 0x01):
            d = tmp_path / f"flip{pos}_{mask}"
            d.mkdir()
            bad = bytearray(data)
            bad[pos] ^= mask
            (d / "wal").write_bytes(bytes(bad))
            with pytest.raises(StorageCorruption) as info:
                Storage.open(str(d))
            msg = str(info.value)
            assert str(d / "wal") in msg and "offset" in msg, msg
            assert "\n" not in msg
            assert info.value.offset <= pos
            # Nothing was cut or rewritten: the damaged file is left for a person to look at.
            assert (d / "wal").read_bytes() == bytes(bad)


def test_zero_filled_tail_is_a_torn_write(tmp_path):
    data, points = _build_small_log(str(tmp_path / "orig"))
    d = tmp_path / "z"
    d.mkdir()
    (d / "wal").write_bytes(data + b"\0" * 37)
    st = Storage.open(str(d))
    assert image(st) == points[-1][1]
    assert st.report.torn_bytes == 37


def test_garbage_after_valid_records_is_corruption(tmp_path):
    data, _ = _build_small_log(str(tmp_path / "orig"))
    d = tmp_path / "g"
    d.mkdir()
    (d / "wal").write_bytes(data + b"\x07" * 40)
    with pytest.raises(StorageCorruption, match=f"offset {len(data)}"):
        Storage.open(str(d))


def test_flipped_byte_in_snapshot_is_corruption(tmp_path):
    st = Storage.open(str(tmp_path / "orig"))
    st.save(HardState(1, None, 3), [E(1, 1), E(2, 1), E(3, 1)])
    st.save_snapshot(Snapshot(2, 1, b"snapshot-bytes", {"k": 1}))
    st.close()
    raw = (tmp_path / "orig" / "snapshot").read_bytes()
    assert read_snapshot(str(tmp_path / "orig" / "snapshot")).data == b"snapshot-bytes"
    for pos in range(len(raw)):
        p = tmp_path / "s.snap"
        bad = bytearray(raw)
        bad[pos] ^= 0x10
        p.write_bytes(bytes(bad))
        with pytest.raises(StorageCorruption):
            read_snapshot(str(p))
    for cut in range(len(raw)):
        (tmp_path / "s.snap").write_bytes(raw[:cut])
        with pytest.raises(StorageCorruption):
            read_snapshot(str(tmp_path / "s.snap"))


def test_fsync_happens_before_save_returns(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    st = Storage.open(str(tmp_path))
    calls.clear()
    st.save(HardState(1, "a", 0), [E(1, 1)])
    assert len(calls) == 1  # one write, one fsync per Ready
    st.save(None, [])
    assert len(calls) == 1  # nothing to persist, nothing to sync


def test_truncation_without_replacement_is_durable(tmp_path):
    st = Storage.open(str(tmp_path))
    st.save(HardState(1, None, 0), [E(1, 1), E(2, 1), E(3, 1)])
    st.truncate_suffix(2)
    st.sync()
    assert st.last_index == 1
    st.close()
    again = Storage.open(str(tmp_path))
    assert again.last_index == 1
    again.save_snapshot(Snapshot(1, 1, b""))
    with pytest.raises(ValueError, match="snapshot"):
        again.truncate_suffix(1)


def test_second_opener_of_a_data_directory_is_refused(tmp_path):
    from raftkit.impl.storage import StorageLocked

    st = Storage.open(str(tmp_path))
    with pytest.raises(StorageLocked, match="in use"):
        Storage.open(str(tmp_path))
    st.close()
    Storage.open(str(tmp_path)).close()
