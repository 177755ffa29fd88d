#!/usr/bin/env python3
"""Draw the 2015 membership bug of the README (docs/img/membership-2015-sequence.svg) and print
its behaviour as ``raftmc check`` prints a counterexample:

    .venv/bin/python scripts/make_membership_story.py

The behaviour is the one ``tests/spec_tests/test_membership.py`` drives step by step through the
mutant ``config-change-before-noop-commit`` (every step one the spec takes, replayed by the
checker's own ``replay``); the picture is the checker's message-sequence chart of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from raftkit.modelcheck.engine.trace import replay, trace_lines  # noqa: E402
from raftkit.modelcheck.pictures.diagrams import sequence_chart_svg  # noqa: E402
from raftkit.modelcheck.pictures.files import write_file  # noqa: E402
from raftkit.spec.model import RaftModel  # noqa: E402
from raftkit.spec.mutants import Mutant  # noqa: E402
from raftkit.spec.params import Params  # noqa: E402
from raftkit.spec.properties import election_safety  # noqa: E402
from spec_tests.membership_runs import story_2015  # noqa: E402

PICTURE = REPO / "docs" / "img" / "membership-2015-sequence.svg"


def main() -> int:
    bug = Params(servers=4, membership=True, values=0, max_term=4, max_log=1,
                 mutant=Mutant.CONFIG_CHANGE_BEFORE_NOOP_COMMIT)
    trace = story_2015(bug)
    model = RaftModel(bug, symmetry=False)
    replay(model, trace)
    if election_safety(trace[-1][1]):
        sys.stderr.write("the story no longer ends with two leaders of one term\n")
        return 1
    write_file(PICTURE, sequence_chart_svg(trace, "ElectionSafety"))
    print("\n".join(trace_lines(model, trace)))
    print(f"wrote {PICTURE.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
