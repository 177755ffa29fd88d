"""Limits, interruption and the progress callback."""

import io

import pytest
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.progress import ProgressLine, ProgressLog, Snapshot, progress_for
from toy_models import Toy, dials


def counter():
    """An unbounded counter: the search never ends on its own."""
    return Toy(inits=[0], step=lambda n: [(("Inc",), n + 1)], names=["Inc"])


def test_max_states_stops_with_incomplete():
    result = check(dials(50, 50), max_states=100)
    assert result.result == "incomplete"
    assert result.stopped_by == "max_states"
    assert 100 <= result.distinct_states < 51 * 51
    assert not result.ok


def test_max_states_equal_to_the_space_is_still_a_limit_hit():
    # All 12 states are found before the last ones are expanded; unexpanded states might have
    # led somewhere new, so the run cannot claim to be complete.
    assert check(dials(2, 3), max_states=12).result == "incomplete"
    assert check(dials(2, 3), max_states=13).result == "ok"


def test_max_seconds_stops_an_endless_search():
    result = check(counter(), max_seconds=0.2)
    assert result.result == "incomplete"
    assert result.stopped_by == "max_seconds"
    assert 0.2 <= result.seconds < 2
    assert result.distinct_states > 100
    assert result.depth == result.distinct_states


def test_ctrl_c_gives_incomplete():
    def step(n):
        if n == 5:
            raise KeyboardInterrupt
        return [(("Inc",), n + 1)]

    result = check(Toy(inits=[0], step=step))
    assert (result.result, result.stopped_by) == ("incomplete", "interrupted")


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError):
        check(counter(), max_states=0)
    with pytest.raises(ValueError):
        check(counter(), max_seconds=0)


def test_progress_callback_is_called_with_sane_snapshots():
    snaps = []
    check(dials(60, 60), progress=snaps.append, progress_interval=0.0)
    assert snaps
    for snap in snaps:
        assert snap.distinct <= 61 * 61
        assert snap.generated >= snap.distinct
        assert 1 <= snap.depth <= 121
    assert [s.generated for s in snaps] == sorted(s.generated for s in snaps)


def test_progress_line_writes_one_line_and_erases_it():
    out = io.StringIO()
    line = ProgressLine(out)
    line(Snapshot(generated=2000, distinct=1000, queue=10, depth=3, seconds=1.0))
    line(Snapshot(generated=4000, distinct=1500, queue=5, depth=4, seconds=2.0))
    text = out.getvalue()
    assert "\n" not in text
    assert "generated 4,000" in text and "2,000 states/s" in text
    line.close()
    assert out.getvalue().endswith("\r")


def test_a_line_a_minute_when_not_a_terminal():
    out = io.StringIO()
    log = progress_for(out)
    assert isinstance(log, ProgressLog) and progress_for(out, enabled=False) is None
    for seconds in (0.5, 30.0, 61.0, 90.0, 120.5, 125.0):
        log(Snapshot(generated=int(seconds * 100), distinct=int(seconds * 10), queue=7,
                     depth=3, seconds=seconds))
    log.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("raftmc: 61s  generated 6,100  distinct 610")
    assert lines[1].startswith("raftmc: 125s")  # a minute after the last line, not 120 s
