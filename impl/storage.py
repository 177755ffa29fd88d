"""Durable storage for a Raft node: hard state, log and snapshots in files of our own format.

Layout of a data directory::

    wal          the write-ahead log: a file header, then checksummed records
    snapshot     the latest snapshot (written to snapshot.tmp, fsynced, renamed)

Record framing (all integers little-endian)::

    u32 payload length | u32 crc32(length bytes) | u32 crc32(payload) | payload (msgpack)

The header carries its own checksum so that a damaged length field is recognised as damage
instead of being mistaken for a record that runs past the end of the file. That distinction is
the whole point of the format:

* a torn write (the node died during an append) leaves an *incomplete* record at the end of the
  file: a header that is cut short, a payload that is cut short, or a zero-filled tail that some
  filesystems leave behind after a crash. Nothing after it was ever fsynced, so nothing after it
  was acknowledged: we cut it and carry on;
* any complete record whose checksum fails, or a record whose contents make no sense, is
  corruption of data that may have been acknowledged. We refuse to start and name the file and
  offset, rather than silently lose an entry a client was told is committed.

Record kinds (first element of the msgpack array):

* ``("H", term, vote, commit)``  hard state; the last one wins
* ``("E", index, term, data)``   a log entry; an index at or below the current last index
  truncates the log first (that is how a follower's conflicting suffix is replaced)
* ``("T", index)``               truncate: entries >= index are gone (a follower's conflicting
  suffix; usually followed by the replacing entries in the same write)
* ``("S", index, term)``         log base after compaction: entries up to index are in the
  snapshot; always the first record of a compacted WAL

Persisting a Ready is one ``write`` and one ``fsync``; compaction rewrites the WAL (the
remaining suffix is short because we compact right after a snapshot) through a temporary file,
fsync and rename, so a crash leaves either the old or the new WAL, both valid.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

WAL_MAGIC = b"RKWAL001"
SNAP_MAGIC = b"RKSNP001"
_HEADER = struct.Struct("<III")
# A record larger than this is not something we wrote: treat the length as damage.
MAX_RECORD = 256 * 1024 * 1024


class StorageLocked(Exception):
    """Another process has this data directory open."""


class StorageCorruption(Exception):
    """Damage that cannot be a torn tail. The node must not start on top of it."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(f"{path}: corrupt at offset {offset}: {reason}")


@dataclass(frozen=True)
class HardState:
    term: int = 0
    vote: Any = None
    commit: int = 0


@dataclass(frozen=True)
class StoredEntry:
    """A log entry as storage sees it: the payload is the core's own encoding, opaque here."""

    index: int
    term: int
    data: bytes


@dataclass(frozen=True)
class SnapshotMeta:
    index: int = 0
    term: int = 0


@dataclass
class Snapshot:
    index: int
    term: int
    data: bytes
    # Cluster configuration or anything else the core wants restored with the snapshot.
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecoveryReport:
    """What opening the WAL found; the server logs it."""

    records: int = 0
    torn_bytes: int = 0
    valid_length: int = 0


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def encode_record(obj: Sequence[Any]) -> bytes:
    payload = msgpack.packb(list(obj), use_bin_type=True)
    length = struct.pack("<I", len(payload))
    return _HEADER.pack(len(payload), _crc(length), _crc(payload)) + payload


def _fsync_dir(path: str) -> None:
    # A rename is durable only once the directory entry is; not every OS lets us open a dir.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def scan_wal(path: str, data: bytes) -> tuple[list[tuple[int, list[Any]]], RecoveryReport]:
    """Split WAL bytes into (offset, record) pairs, cutting a torn tail, raising on damage."""
    report = RecoveryReport()
    if len(data) < len(WAL_MAGIC):
        # The header is written with the file (tmp + rename), so a short one can only be a
        # file cut before anything was appended: an empty log, as a torn tail of nothing.
        if data != WAL_MAGIC[: len(data)]:
            raise StorageCorruption(path, 0, "bad file header")
        report.torn_bytes = len(data)
        return [], report
    if data[: len(WAL_MAGIC)] != WAL_MAGIC:
        raise StorageCorruption(path, 0, "bad file header (not a raftkit WAL, or damaged)")
    records: list[tuple[int, list[Any]]] = []
    off = len(WAL_MAGIC)
    end = len(data)
    while off < end:
        if end - off < _HEADER.size:
            break  # header cut short by a crash
        length, hcrc, pcrc = _HEADER.unpack_from(data, off)
        if _crc(data[off : off + 4]) != hcrc:
            if data.count(0, off) == end - off:
                break  # zero-filled tail: space the filesystem allocated but we never wrote
            raise StorageCorruption(path, off, "record header checksum mismatch")
        if length > MAX_RECORD:
            raise StorageCorruption(path, off, f"record length {length} too large")
        body_start = off + _HEADER.size
        if body_start + length > end:
            break  # payload cut short by a crash
        payload = data[body_start : body_start + length]
        if _crc(payload) != pcrc:
            raise StorageCorruption(path, off, "record checksum mismatch")
        try:
            rec = msgpack.unpackb(payload, raw=False)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is damage
            raise StorageCorruption(path, off, f"undecodable record: {exc}") from None
        if not isinstance(rec, list) or not rec:
            raise StorageCorruption(path, off, "record is not a tagged array")
        records.append((off, rec))
        off = body_start + length
    report.records = len(records)
    report.valid_length = off
    report.torn_bytes = end - off
    return records, report


class LogState:
    """The in-memory image of the WAL, rebuilt by replaying records."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.base = SnapshotMeta()
        self.entries: list[StoredEntry] = []

    @property
    def first_index(self) -> int:
        return self.base.index + 1

    @property
    def last_index(self) -> int:
        return self.base.index + len(self.entries)

    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.base.term

    def term_at(self, index: int) -> int | None:
        if index == self.base.index:
            return self.base.term
        if self.base.index < index <= self.last_index:
            return self.entries[index - self.base.index - 1].term
        return None

    def apply(self, rec: list[Any], where: str = "", offset: int = 0) -> None:
        kind = rec[0]
        try:
            if kind == "H":
                _, term, vote, commit = rec
                self.hard_state = HardState(int(term), vote, int(commit))
            elif kind == "E":
                _, index, term, data = rec
                self.put_entry(StoredEntry(int(index), int(term), bytes(data)))
            elif kind == "T":
                _, index = rec
                index = int(index)
                if index <= self.base.index:
                    raise ValueError(f"truncation at {index} into the snapshot")
                del self.entries[max(0, index - self.base.index - 1) :]
            elif kind == "S":
                _, index, term = rec
                self.base = SnapshotMeta(int(index), int(term))
                self.entries = [e for e in self.entries if e.index > index]
                if self.entries and self.entries[0].index != index + 1:
                    self.entries = []
            else:
                raise ValueError(f"unknown record kind {kind!r}")
        except (ValueError, TypeError) as exc:
            raise StorageCorruption(where, offset, f"bad record: {exc}") from None

    def put_entry(self, e: StoredEntry) -> None:
        if e.index <= self.base.index:
            raise ValueError(f"entry {e.index} at or below snapshot index {self.base.index}")
        if e.index > self.last_index + 1:
            raise ValueError(f"gap: entry {e.index} after last index {self.last_index}")
        if e.index <= self.last_index:
            del self.entries[e.index - self.base.index - 1 :]
        if self.entries and e.term < self.entries[-1].term:
            raise ValueError(f"entry {e.index} term {e.term} below previous term")
        self.entries.append(e)


class Storage:
    """A node's durable state. Not thread-safe: one owner (the server loop) calls it."""

    def __init__(self, directory: str, *, fsync: bool = True) -> None:
        self.dir = directory
        self.fsync_enabled = fsync
        self.wal_path = os.path.join(directory, "wal")
        self.snap_path = os.path.join(directory, "snapshot")
        self.state = LogState()
        self.snapshot: Snapshot | None = None
        self.report = RecoveryReport()
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._pending: list[bytes] = []
        # The server fsyncs in a worker thread; this keeps a shutdown in the main thread from
        # closing the file under a write still in progress (an fd number reused for another
        # file would then receive WAL bytes).
        self._io = threading.RLock()

    # ---- opening and recovery ------------------------------------------------------------

    @classmethod
    def open(cls, directory: str, *, fsync: bool = True) -> Storage:
        """Open (creating if needed) and recover. Raises StorageCorruption on damage."""
        os.makedirs(directory, exist_ok=True)
        st = cls(directory, fsync=fsync)
        st._lock()
        try:
            st._recover()
        except BaseException:
            st.close()
            raise
        return st

    def _lock(self) -> None:
        # Two nodes appending to one WAL would interleave records: refuse the second one.
        fd = os.open(os.path.join(self.dir, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StorageLocked(f"{self.dir}: data directory in use by another process") from None
        self._lock_fd = fd

    def _recover(self) -> None:
        for leftover in ("wal.tmp", "snapshot.tmp"):
            p = os.path.join(self.dir, leftover)
            if os.path.exists(p):
                os.unlink(p)  # an unfinished rewrite; the original is still in place
        self.snapshot = read_snapshot(self.snap_path) if os.path.exists(self.snap_path) else None
        if not os.path.exists(self.wal_path):
            self._write_new_wal([])
        with open(self.wal_path, "rb") as f:
            data = f.read()
        records, report = scan_wal(self.wal_path, data)
        self.report = report
        for off, rec in records:
            self.state.apply(rec, self.wal_path, off)
        if self.snapshot is not None and self.snapshot.index > self.state.base.index:
            # Crash between writing a snapshot and compacting: the snapshot is durable, so
            # adopt it as the base now (entries it covers are redundant).
            self.state.apply(["S", self.snapshot.index, self.snapshot.term])
        if report.valid_length < len(WAL_MAGIC):
            self._write_new_wal([])
        elif report.torn_bytes:
            with open(self.wal_path, "r+b") as f:
                f.truncate(report.valid_length)
                self._sync(f.fileno())
        self._fd = os.open(self.wal_path, os.O_WRONLY | os.O_APPEND)

    def _write_new_wal(self, records: Iterable[bytes]) -> None:
        tmp = self.wal_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(WAL_MAGIC)
            for r in records:
                f.write(r)
            f.flush()
            self._sync(f.fileno())
        os.replace(tmp, self.wal_path)
        if self.fsync_enabled:
            _fsync_dir(self.dir)

    def _sync(self, fd: int) -> None:
        if self.fsync_enabled:
            os.fsync(fd)

    # ---- reading -------------------------------------------------------------------------

    @property
    def hard_state(self) -> HardState:
        return self.state.hard_state

    @property
    def entries(self) -> list[StoredEntry]:
        return self.state.entries

    @property
    def first_index(self) -> int:
        return self.state.first_index

    @property
    def last_index(self) -> int:
        return self.state.last_index

    # ---- writing -------------------------------------------------------------------------

    def set_hard_state(self, hs: HardState) -> None:
        if hs == self.state.hard_state:
            return
        rec = ["H", hs.term, hs.vote, hs.commit]
        self.state.apply(rec)
        self._pending.append(encode_record(rec))

    def append(self, entries: Iterable[StoredEntry]) -> None:
        """Buffer entries; an index at or below the last one replaces the suffix from there."""
        for e in entries:
            rec = ["E", e.index, e.term, e.data]
            try:
                self.state.put_entry(e)
            except ValueError as exc:
                raise ValueError(f"append rejected: {exc}") from None
            self._pending.append(encode_record(rec))

    def truncate_suffix(self, from_index: int) -> None:
        """Drop entries >= from_index (durable with the next sync)."""
        if from_index > self.state.last_index:
            return
        rec = ["T", from_index]
        try:
            self.state.apply(rec)
        except StorageCorruption as exc:
            raise ValueError(f"truncate rejected: {exc.reason}") from None
        self._pending.append(encode_record(rec))

    def sync(self) -> None:
        """Write everything buffered in one write and make it durable."""
        with self._io:
            if not self._pending:
                return
            assert self._fd is not None, "storage is closed"
            blob = b"".join(self._pending)
            self._pending.clear()
            view = memoryview(blob)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self._sync(self._fd)

    def save(self, hard_state: HardState | None, entries: Iterable[StoredEntry]) -> None:
        """Persist one Ready's worth of state: after this returns, it survives a crash."""
        if hard_state is not None:
            self.set_hard_state(hard_state)
        self.append(entries)
        self.sync()

    # ---- snapshots and compaction --------------------------------------------------------

    def save_snapshot(self, snap: Snapshot) -> None:
        """Make a snapshot durable, then drop the log prefix it covers."""
        if self.snapshot is not None and snap.index <= self.snapshot.index:
            return
        write_snapshot(self.snap_path, snap, fsync=self.fsync_enabled)
        self.snapshot = snap
        self.compact(snap.index, snap.term)

    def compact(self, index: int, term: int | None = None) -> None:
        """Rewrite the WAL without entries <= index (they must be covered by a snapshot)."""
        with self._io:
            self._compact(index, term)

    def _compact(self, index: int, term: int | None) -> None:
        self.sync()
        if term is None:
            term = self.state.term_at(index)
            if term is None:
                raise ValueError(f"no term known for index {index}")
        if index < self.state.base.index:
            return
        keep_matching = self.state.term_at(index) == term
        self.state.apply(["S", index, term])
        if not keep_matching:
            # A snapshot from the leader that our log disagrees with replaces the log.
            self.state.entries = []
        hs = self.state.hard_state
        records = [encode_record(["S", index, term])]
        records.append(encode_record(["H", hs.term, hs.vote, hs.commit]))
        records.extend(encode_record(["E", e.index, e.term, e.data]) for e in self.state.entries)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._write_new_wal(records)
        self._fd = os.open(self.wal_path, os.O_WRONLY | os.O_APPEND)

    def close(self) -> None:
        with self._io:
            self._close()

    def _close(self) -> None:
        try:
            if self._fd is not None:
                try:
                    self.sync()
                finally:
                    os.close(self._fd)
                    self._fd = None
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def encode_snapshot(snap: Snapshot) -> bytes:
    body = msgpack.packb([snap.index, snap.term, snap.meta, snap.data], use_bin_type=True)
    return SNAP_MAGIC + struct.pack("<QI", len(body), _crc(body)) + body


def write_snapshot(path: str, snap: Snapshot, *, fsync: bool = True) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(encode_snapshot(snap))
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if fsync:
        _fsync_dir(os.path.dirname(path) or ".")


def read_snapshot(path: str) -> Snapshot:
    """Read a snapshot file; any damage is corruption (it was renamed into place whole)."""
    with open(path, "rb") as f:
        data = f.read()
    head = len(SNAP_MAGIC) + 12
    if len(data) < head or data[: len(SNAP_MAGIC)] != SNAP_MAGIC:
        raise StorageCorruption(path, 0, "bad snapshot header")
    length, crc = struct.unpack_from("<QI", data, len(SNAP_MAGIC))
    body = data[head:]
    if len(body) != length:
        raise StorageCorruption(path, len(SNAP_MAGIC), f"snapshot length {len(body)} != {length}")
    if _crc(body) != crc:
        raise StorageCorruption(path, head, "snapshot checksum mismatch")
    try:
        index, term, meta, payload = msgpack.unpackb(body, raw=False)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is damage
        raise StorageCorruption(path, head, f"undecodable snapshot: {exc}") from None
    return Snapshot(int(index), int(term), bytes(payload), dict(meta))
