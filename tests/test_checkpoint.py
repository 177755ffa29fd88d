"""Checkpoint and resume on one machine: runs killed with SIGKILL at several points resume to
the counts of an uninterrupted run; damaged or foreign checkpoints are refused in one line."""

import gc
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check, checkpoint
from raftkit.spec.params import Params

# 57,021 distinct states in 48 levels: long enough to be killed at many level boundaries,
# short enough (a few seconds with a checkpoint at every level) for the default suite.
FLAGS = ["--max-term", "2", "--max-log", "1"]
PARAMS = Params(max_term=2, max_log=1)


def _cmd(*args):
    return [sys.executable, "-m", "raftkit.modelcheck.cli", "check", *FLAGS, *args]


def _run(*args, timeout=120):
    return subprocess.run(_cmd(*args), capture_output=True, text=True, timeout=timeout)


def _figures(out):
    return {
        k: out[k]
        for k in ("result", "distinct_states", "states_generated", "depth", "coverage", "sometimes")
    }


@pytest.fixture(scope="module")
def reference():
    r = check(FastRaftModel(PARAMS))
    assert r.result == "ok" and r.distinct_states == 57021
    out = {
        "result": r.result,
        "distinct_states": r.distinct_states,
        "states_generated": r.states_generated,
        "depth": r.depth,
        "coverage": {
            k: {"enabled": c.enabled, "distinct": c.distinct} for k, c in r.coverage.items()
        },
        "sometimes": dict(r.sometimes),
    }
    return out


def _level(directory):
    path = checkpoint.latest(str(directory))
    return int(os.path.basename(path)[5:]) if path else 0


def _kill_when(directory, ready, deadline=60.0):
    """Start a checkpointing run and SIGKILL it once ``ready()`` holds; True if it was still
    running when killed."""
    proc = subprocess.Popen(
        _cmd("--checkpoint", str(directory), "--checkpoint-every", "0", "--json"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    end = time.monotonic() + deadline
    try:
        while not ready() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.002)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    return alive


def _resume(directory):
    res = _run("--resume", str(directory), "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("after_checkpoint_of_level", [1, 12, 30])
def test_killed_after_a_checkpoint_resumes_to_the_same_counts(
    tmp_path, reference, after_checkpoint_of_level
):
    assert _kill_when(tmp_path, lambda: _level(tmp_path) >= after_checkpoint_of_level)
    assert _level(tmp_path) >= after_checkpoint_of_level
    assert _figures(_resume(tmp_path)) == reference


@pytest.mark.parametrize("delay", [0.9, 1.6])
def test_killed_after_a_delay_resumes_to_the_same_counts(tmp_path, reference, delay):
    t0 = time.monotonic()
    # Interpreter start-up and imports take part of the delay; any level may be the last one.
    _kill_when(tmp_path, lambda: time.monotonic() - t0 >= delay and _level(tmp_path) >= 1)
    assert _figures(_resume(tmp_path)) == reference


def test_killed_mid_write_resumes_from_the_last_complete_checkpoint(tmp_path, reference):
    # Kill as soon as a temporary checkpoint directory shows up, i.e. during a write.
    def writing():
        return _level(tmp_path) >= 5 and any(n.startswith(".tmp-") for n in os.listdir(tmp_path))

    _kill_when(tmp_path, writing)
    assert _level(tmp_path) >= 5
    assert _figures(_resume(tmp_path)) == reference


def test_killed_twice_resumed_twice(tmp_path, reference):
    assert _kill_when(tmp_path, lambda: _level(tmp_path) >= 8)
    first = _level(tmp_path)
    proc = subprocess.Popen(
        _cmd("--resume", str(tmp_path), "--checkpoint-every", "0", "--json"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    end = time.monotonic() + 60
    while _level(tmp_path) < first + 10 and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _level(tmp_path) > first
    assert _figures(_resume(tmp_path)) == reference


def test_a_torn_temporary_checkpoint_is_ignored(tmp_path, reference):
    res = _run("--checkpoint", str(tmp_path), "--checkpoint-every", "0", "--max-seconds", "0.5")
    assert res.returncode == 3, res.stderr
    level = _level(tmp_path)
    torn = tmp_path / f".tmp-{level + 1:06d}-1"
    torn.mkdir()
    (torn / "share-0.bin").write_bytes(b"half a share")
    assert _figures(_resume(tmp_path)) == reference


@pytest.fixture()
def saved(tmp_path):
    res = _run("--checkpoint", str(tmp_path), "--checkpoint-every", "0", "--max-seconds", "0.5")
    assert res.returncode == 3, res.stderr
    return checkpoint.latest(str(tmp_path))


def _refused(directory, *extra):
    res = _run("--resume", str(directory), *extra)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("raftmc: error: --resume: "), res.stderr
    return lines[0]


def test_a_flipped_byte_is_refused(saved):
    path = os.path.join(saved, "share-0.bin")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x40
    open(path, "wb").write(bytes(data))
    assert "share-0.bin checksum mismatch" in _refused(os.path.dirname(saved))


def test_a_truncated_file_is_refused(saved):
    path = os.path.join(saved, "share-0.bin")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])
    assert "share-0.bin has" in _refused(os.path.dirname(saved))


def test_an_edited_manifest_is_refused(saved):
    path = os.path.join(saved, "manifest.json")
    manifest = json.load(open(path))
    manifest["body"]["generated"] += 1
    json.dump(manifest, open(path, "w"))
    assert "manifest checksum mismatch" in _refused(os.path.dirname(saved))


def test_other_parameters_are_refused(saved):
    line = _refused(os.path.dirname(saved), "--max-inflight", "2")
    assert "max_inflight=1 (now 2)" in line


def test_symmetry_off_is_refused(saved):
    assert "symmetry=True (now False)" in _refused(os.path.dirname(saved), "--no-symmetry")


def test_an_empty_directory_is_refused(tmp_path):
    assert "no complete checkpoint" in _refused(tmp_path)


def test_checkpointed_run_counts_equal_an_ordinary_run(tmp_path, reference):
    res = _run("--checkpoint", str(tmp_path), "--checkpoint-every", "0", "--json")
    assert res.returncode == 0, res.stderr
    assert _figures(json.loads(res.stdout)) == reference
    assert _level(tmp_path) == reference["depth"] - 1  # the last level leaves nothing queued


def test_usage_errors():
    for args, text in [
        (["--checkpoint", "/tmp/x", "--workers", "2"], "need --ray"),
        (["--checkpoint", "/tmp/x", "--reference"], "need the compiled model"),
        (["--checkpoint", "/tmp/x", "--checkpoint-every", "-1"], "must not be negative"),
    ]:
        res = _run(*args)
        assert res.returncode == 2 and text in res.stderr, res.stderr


def test_a_write_the_disk_refuses_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    directory = str(tmp_path)
    body = {"identity": {"model": "x"}, "generated": 1}
    first = checkpoint.write(directory, 3, body, [b"level three"])
    real_fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.write(directory, 4, body, [b"level four"])
    monkeypatch.setattr(os, "fsync", real_fsync)
    message = str(info.value)
    assert "level 4" in message and "No space left on device" in message
    assert first in message and "\n" not in message
    assert sorted(os.listdir(directory)) == [os.path.basename(first)]  # no temporary left
    assert checkpoint.load(directory, {"model": "x"}).shares == [b"level three"]


def test_a_checkpoint_failing_mid_run_stops_with_exit_4_and_one_line(
    tmp_path, monkeypatch, capsys, reference
):
    from raftkit.modelcheck.cli.app import main

    written = []
    real_write = checkpoint._write

    def fail_after_three(directory, tmp, level, body, shares):
        if len(written) == 3:
            raise OSError(28, "No space left on device", tmp)
        written.append(level)
        return real_write(directory, tmp, level, body, shares)

    monkeypatch.setattr(checkpoint, "_write", fail_after_three)
    status = main(["check", *FLAGS, "--checkpoint", str(tmp_path), "--checkpoint-every", "0"])
    assert status == 4
    assert gc.isenabled()  # the shares ran in this process and gave the collector back
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    newest = os.path.join(str(tmp_path), f"ckpt-{written[-1]:06d}")
    assert err == [
        f"raftmc: error: cannot write the checkpoint of level {written[-1] + 1} into "
        f"{tmp_path}: No space left on device (the newest complete one is {newest})"
    ]
    assert _level(tmp_path) == written[-1]
    monkeypatch.setattr(checkpoint, "_write", real_write)
    resumed = _run("--resume", str(tmp_path), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert _figures(json.loads(resumed.stdout)) == reference


def test_resume_from_a_file_is_refused(tmp_path):
    path = tmp_path / "ckpt"
    path.write_text("not a directory\n")
    assert "is not a directory" in _refused(path)
    assert path.read_text() == "not a directory\n"


def test_a_checkpointed_run_in_this_process_gives_the_collector_back(tmp_path):
    assert gc.isenabled()
    result = check(FastRaftModel(PARAMS), checkpoint=str(tmp_path), checkpoint_every=0.0)
    assert result.result == "ok"
    assert gc.isenabled()
