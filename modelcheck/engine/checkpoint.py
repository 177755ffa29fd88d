"""Checkpoints of a breadth-first search, written at level boundaries.

A checkpoint is a directory ``DIR/ckpt-LLLLLL`` (L: the number of levels expanded) holding one
file per share (see :mod:`.sharded`: its parent log, from which the seen-set is rebuilt, its
next frontier as portable states, and its counters) and ``manifest.json``: the run's identity
(model, parameters, number of shares), the search's counters and the SHA-256 and size of every
file, itself checksummed.

Crash safety comes from the order of writes: everything goes into a temporary directory, each
file is fsynced, then the directory is renamed to its final name and ``DIR`` is fsynced. A run
killed at any point leaves either the previous checkpoint or the new one complete, never a
half-written one under a ``ckpt-`` name; temporary directories are ignored on resume. Only
then are older checkpoints deleted.

Resuming takes the newest complete checkpoint and refuses it (:class:`CheckpointError`, one
line) if anything does not verify: rather than silently start again from an older one, which
would hide a damaged disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any

# 2: keys became XORs of mixed parts (modelcheck/compiled): a format-1 checkpoint's fingerprints
# would not match the states the search makes now, so it is refused rather than resumed.
FORMAT = 2
_PREFIX = "ckpt-"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line for the user."""


@dataclass
class Loaded:
    """A verified checkpoint: the manifest's body and each share's file contents."""

    path: str
    body: dict[str, Any]
    shares: list[bytes]


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _seal(body: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(body, sort_keys=True)
    return {"body": body, "sha256": _sha(text.encode())}


def write(directory: str, level: int, body: dict[str, Any], shares: list[bytes]) -> str:
    """Write a checkpoint of ``level`` into ``directory``; returns its path.

    ``body`` holds the run's identity and counters (JSON values); ``shares`` each share's blob.
    Raises :class:`CheckpointError` (one line, naming the newest checkpoint still complete) if
    the disk refuses a write; the temporary directory is removed, older checkpoints are kept.
    """
    tmp = os.path.join(directory, f".tmp-{level:06d}-{os.getpid()}")
    try:
        return _write(directory, tmp, level, body, shares)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = latest(directory)
        still = f"the newest complete one is {kept}" if kept else "no earlier one exists"
        reason = exc.strerror or str(exc)
        raise CheckpointError(
            f"cannot write the checkpoint of level {level} into {directory}: {reason} ({still})"
        ) from None


def _write(directory: str, tmp: str, level: int, body: dict[str, Any], shares: list[bytes]) -> str:
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"{_PREFIX}{level:06d}")
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    files = []
    for w, blob in enumerate(shares):
        name = f"share-{w}.bin"
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        files.append({"name": name, "size": len(blob), "sha256": _sha(blob)})
    manifest = _seal({**body, "format": FORMAT, "level": level, "files": files})
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(manifest, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(tmp)
    if os.path.exists(final):  # a resumed run reaching a level it had checkpointed before
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(directory)
    for old in _complete(directory):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _complete(directory: str) -> list[str]:
    """The checkpoint directories under their final names, oldest first."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        os.path.join(directory, n) for n in names if n.startswith(_PREFIX) and n[5:].isdigit()
    )


def latest(directory: str) -> str | None:
    """The newest complete checkpoint in ``directory``, if any."""
    found = _complete(directory)
    return found[-1] if found else None


def load(directory: str, identity: dict[str, Any]) -> Loaded:
    """Read and verify the newest checkpoint of ``directory`` for a run of ``identity``."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise CheckpointError(f"{directory} is not a directory")
    path = latest(directory)
    if path is None:
        raise CheckpointError(f"no complete checkpoint in {directory}")
    where = os.path.basename(path)
    try:
        with open(os.path.join(path, "manifest.json")) as f:
            manifest = json.load(f)
        body = manifest["body"]
        sealed = manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {where}: unreadable manifest ({exc})") from None
    if _sha(json.dumps(body, sort_keys=True).encode()) != sealed:
        raise CheckpointError(f"checkpoint {where}: manifest checksum mismatch")
    if body.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {where}: format {body.get('format')}, expected {FORMAT}")
    theirs = body.get("identity")
    if theirs != identity:
        diff = sorted(
            k for k in set(theirs or {}) | set(identity) if (theirs or {}).get(k) != identity.get(k)
        )
        shown = ", ".join(f"{k}={(theirs or {}).get(k)!r} (now {identity.get(k)!r})" for k in diff)
        raise CheckpointError(f"checkpoint {where} is of another run: {shown}")
    shares = []
    for entry in body["files"]:
        name = entry["name"]
        try:
            with open(os.path.join(path, name), "rb") as f:
                blob = f.read()
        except OSError as exc:
            raise CheckpointError(f"checkpoint {where}: cannot read {name} ({exc})") from None
        if len(blob) != entry["size"]:
            raise CheckpointError(
                f"checkpoint {where}: {name} has {len(blob)} bytes, the manifest says "
                f"{entry['size']} (truncated or overwritten)"
            )
        if _sha(blob) != entry["sha256"]:
            raise CheckpointError(f"checkpoint {where}: {name} checksum mismatch")
        shares.append(blob)
    return Loaded(path, body, shares)
