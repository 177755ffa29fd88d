"""Conformance of Raft libraries we did not write, traced from outside (thirdparty/).

The recorded traces (thirdparty/LIB/trace/) are replayed to the end with --keep-going, and the
deviations must be exactly the ones recorded beside them (thirdparty/LIB/deviations.json), each
judged a real departure from Figure 2 by reading the library's source: JUDGED below names, per
rule, where in the library's code the departure is. The slow test runs real clusters of both
libraries again (it needs them: `pip install -e '.[thirdparty]'` for consensual; Node and npm
for liferaft, whose pinned packages it installs under build/) and checks that every deviation
of the new traces is of a kind judged real.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from raftkit.modelcheck.cli import main as raftmc
from raftkit.modelcheck.conformance import rules as R

HERE = Path(__file__).resolve().parent / "thirdparty"
ROOT = HERE.parents[2]

# Per library: the rules its traces break, and where its source departs from Figure 2.
JUDGED: dict[str, dict[str, str]] = {
    "consensual": {
        R.RULE_PERSIST: "no stable storage at all: Node.from_url starts every process with "
        "RegularHistory([]) and Follower(term=0) (consensual/core/raft/node.py:102)",
        R.RULE_TERM: "_receive_vote_call answers IGNORES with its own term while it heard from "
        "a leader within a heartbeat, before adopting the request's higher term "
        "(node.py:466-476; the term is adopted only after, at node.py:477-478)",
    },
    "liferaft": {
        R.RULE_AE_REPLY: "a heartbeat ('append' without data) is never answered "
        "(liferaft/index.js:309-317: an ack only `if (packet.data)`); a request of a stale term "
        "is answered with a Promise, not a packet (index.js:175 lacks the await of index.js:152)",
        R.RULE_RV_REPLY: "a RequestVote of a stale term is answered with a Promise (index.js:175)",
        R.RULE_REPLY_TERM: "handlers are async: the reply is built after awaits "
        "(index.js:223, 240), by when an election timer may have moved the node to a new term",
        R.RULE_RV_GRANT: "the up-to-date check needs both a longer log and a later last term "
        "to refuse (index.js:225: `index > packet.last.index && term > packet.last.term`), and "
        "an empty log reports the node's current term as its last term (log.js:171-174)",
        R.RULE_PERSIST: "term and vote are never stored: every start has term 0 and no vote "
        "(index.js:84-86, 107); the traced nodes use memdown, so the log goes too",
        R.RULE_AE_COMMIT: "a follower commits up to the leader's committedIndex after checking "
        "only that its last index equals prevLogIndex, not prevLogTerm (index.js:299, 320-323): "
        "it commits its own conflicting entry",
        R.RULE_AE_APPEND: "prevLogTerm is never compared (index.js:299): an entry is appended "
        "after a conflicting one; an entry is stored at its index without deleting what follows "
        "(index.js:311); removeEntriesAfter (index.js:302, not awaited) deletes entries that "
        "match, committed ones included",
        R.RULE_AE_MATCH: "success is acknowledged without the prevLogTerm check "
        "(index.js:299, 313-316)",
    },
}


def replay(lib: str, traces: list[Path], capsys: pytest.CaptureFixture) -> dict:
    code = raftmc(["conform", "--keep-going", "--json", *map(str, traces)])
    out = json.loads(capsys.readouterr().out)
    assert code == (1 if out.get("deviations") else 0), out
    return out


@pytest.mark.parametrize("lib", sorted(JUDGED))
def test_recorded_traces_replay_to_the_end_with_their_deviations(lib, capsys):
    traces = sorted((HERE / lib / "trace").glob("*.jsonl"))
    lines = sum(len(p.read_text().splitlines()) for p in traces)
    out = replay(lib, traces, capsys)
    expected = json.loads((HERE / lib / "deviations.json").read_text())
    assert out["events"] == lines == expected["events"]  # replayed to the end
    got = [[Path(d["file"]).name, d["line"], d["rule"], d["class"]] for d in out["deviations"]]
    assert got == expected["deviations"]
    for _file, _line, rule, _cls in got:
        assert rule in JUDGED[lib], f"{lib}: {rule!r} was not judged against the source"


def test_each_library_departs_from_figure_2():
    """Both libraries' traces show safety departures; consensual's only at its restarts."""
    for lib in JUDGED:
        devs = json.loads((HERE / lib / "deviations.json").read_text())["deviations"]
        assert any(cls == R.SAFETY for *_x, cls in devs), lib


def _liferaft_modules(build: Path) -> Path:
    """liferaft's pinned packages installed under build/ with npm ci (outside the repo's
    tracked files); fails with what to install if Node or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("re-recording liferaft needs Node.js and npm (apt-get install nodejs npm)")
    build.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", ".npmrc"):
        shutil.copy(HERE / "liferaft" / name, build / name)
    proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=build,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return build / "node_modules"


@pytest.mark.slow
@pytest.mark.parametrize("lib", sorted(JUDGED))
def test_rerecord_real_clusters(lib, tmp_path, capsys):
    env = None
    if lib == "consensual":
        if importlib.util.find_spec("consensual") is None:
            pytest.fail("re-recording consensual needs it: pip install -e '.[thirdparty]'")
    else:
        import os

        env = {
            **os.environ,
            "NODE_PATH": str(_liferaft_modules(ROOT / "build/thirdparty/liferaft")),
        }
    out_dir = tmp_path / lib
    proc = subprocess.run([sys.executable, str(HERE / "record.py"), lib, str(out_dir)],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    traces = sorted(out_dir.glob("*.jsonl"))
    lines = sum(len(p.read_text().splitlines()) for p in traces)
    out = replay(lib, traces, capsys)
    assert out["events"] == lines
    for d in out.get("deviations", []):
        assert d["rule"] in JUDGED[lib], f"new kind of deviation, to judge: {d}"
