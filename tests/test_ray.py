"""The sharded search on a real local Ray cluster: a head and one extra worker node, both on
loopback, started here and stopped in teardown. Counts equal those of one process, a mutant's
counterexample has the same length, and a run survives the loss of the worker node by going
on from its last checkpoint. Skipped only when the ``ray`` extra is not installed."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check, checkpoint
from raftkit.spec.params import Params

# Ray refuses `ray start --address` for a second node when node addresses are loopback (its
# "Windows and OSX" switch is what keeps them loopback), so the cluster is started through
# Ray's own test helper, which starts the same processes (GCS, raylets, workers).
_LAUNCHER = textwrap.dedent(
    """
    import json, sys
    from ray.cluster_utils import Cluster
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    worker = cluster.add_node(num_cpus=1)
    pids = [p.process.pid for ps in worker.all_processes.values() for p in ps]
    print(json.dumps({"address": cluster.address, "worker_pids": pids}), flush=True)
    sys.stdin.read()  # until the test closes the pipe
    cluster.shutdown()
    """
)

# The same environment for the cluster and every driver: loopback node addresses, and no
# token (the cluster is reachable from this machine only).
ENV = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="disabled")


def _ray_installed():
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


needs_ray = pytest.mark.skipif(
    not _ray_installed(), reason="ray is not installed (pip install -e '.[test,ray]')"
)


def _children(pids):
    """Every descendant of ``pids`` (Ray's worker processes are the raylet's children)."""
    found = set(pids)
    changed = True
    while changed:
        changed = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in found and int(entry) not in found:
                found.add(int(entry))
                changed = True
    return found


@pytest.fixture(scope="module")
def cluster():
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    try:
        line = launcher.stdout.readline()
        if not line:
            pytest.fail("the Ray cluster did not start")
        info = json.loads(line)
        assert info["address"].startswith("127.0.0.1:")
        yield info
    finally:
        everything = _children([launcher.pid])
        try:
            launcher.stdin.close()
            launcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        for pid in sorted(everything):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        launcher.wait(timeout=30)


def _raftmc(*args, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "check", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def _local(params):
    r = check(FastRaftModel(params))
    return {
        "result": r.result,
        "distinct_states": r.distinct_states,
        "states_generated": r.states_generated,
        "depth": r.depth,
    }


def _figures(out):
    return {k: out[k] for k in ("result", "distinct_states", "states_generated", "depth")}


CONFIGS = [
    (["--max-term", "2", "--max-log", "1"], Params(max_term=2, max_log=1)),
    (
        ["--max-term", "2", "--max-log", "0", "--faults"],
        Params(max_term=2, max_log=0, faults=True),
    ),
]


@needs_ray
@pytest.mark.parametrize("flags, params", CONFIGS, ids=["B-like", "D-like"])
def test_counts_equal_one_process(cluster, flags, params):
    res = _raftmc(*flags, "--ray", cluster["address"], "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert _figures(json.loads(res.stdout)) == _local(params)


@needs_ray
def test_mutant_counterexample_has_the_same_length(cluster):
    local = _raftmc("--mutant", "forget-vote-on-restart")
    remote = _raftmc("--mutant", "forget-vote-on-restart", "--ray", cluster["address"],
                     "--workers", "2")
    assert local.returncode == remote.returncode == 1, remote.stderr
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert b["violation"]["property"] == a["violation"]["property"]
    assert len(b["violation"]["trace"]) == len(a["violation"]["trace"])
    assert b["depth"] == a["depth"]


@needs_ray
@pytest.mark.slow
def test_survives_the_loss_of_the_worker_node(cluster, tmp_path):
    flags, params = CONFIGS[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "check", *flags,
         "--ray", cluster["address"], "--workers", "2",
         "--checkpoint", str(tmp_path), "--checkpoint-every", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    end = time.monotonic() + 120
    while checkpoint.latest(str(tmp_path)) is None and time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    before = checkpoint.latest(str(tmp_path))
    assert before is not None
    for pid in _children(cluster["worker_pids"]):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    # Ray's driver prints the node's death on stdout before the result (not ours to silence).
    assert _figures(json.loads(out.strip().splitlines()[-1])) == _local(params)


@needs_ray
def test_resume_a_local_checkpoint_on_ray(cluster, tmp_path):
    flags, params = CONFIGS[0]
    cut = _raftmc(*flags, "--ray", cluster["address"], "--workers", "2",
                  "--checkpoint", str(tmp_path), "--checkpoint-every", "0", "--max-seconds", "3")
    assert cut.returncode in (0, 3), cut.stderr
    res = _raftmc(*flags, "--ray", cluster["address"], "--workers", "2", "--resume", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert _figures(json.loads(res.stdout)) == _local(params)


def test_the_single_machine_path_does_not_import_ray():
    code = textwrap.dedent(
        """
        import sys
        import raftkit.modelcheck.cli as cli
        assert "ray" not in sys.modules, "import"
        status = cli.main(["check", "--max-term", "2", "--max-log", "0", "--json"])
        assert status == 0, status
        assert "ray" not in sys.modules, "check"
        print("no ray")
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "no ray" in res.stdout, res.stderr
