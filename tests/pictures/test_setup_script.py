"""scripts/setup-system.sh: on a machine that has the programs, it does nothing, quietly."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .helpers import REPO


def test_setup_script_is_idempotent():
    if not all(shutil.which(p) for p in ("dot", "chromium", "chromedriver")):
        pytest.skip("this machine lacks the programs; the script would install them")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup-system.sh")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == "" and done.stderr == ""
