"""Writing what the pictures make: a file that names itself when the disk refuses it, and a
folder written whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def write_file(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` (its directory created if missing).

    A write can fail after the file was opened (a full disk shows at the last flush), when
    Python's error carries no file name: it is given one here, so the message can say which
    file it was.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data, encoding="utf-8")
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(target)
        raise


def write_files(directory: str | Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``files`` (path inside ``directory`` -> content) all or nothing: if one cannot be
    written, every file and directory this call created is removed again, so no reader finds
    a half-written folder, and the error names the file that failed."""
    out = Path(directory)
    created: list[Path] = []
    try:
        for rel, data in files.items():
            target = out / rel
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            created.extend(reversed(missing))
            if not target.exists():
                created.append(target)
            write_file(target, data)
    except OSError:
        for path in reversed(created):
            try:
                if path.is_dir():
                    os.rmdir(path)
                elif path.exists():
                    path.unlink()
            except OSError:
                pass  # the original error is the one worth reporting
        raise
