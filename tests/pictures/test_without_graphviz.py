"""Without Graphviz's dot: `raftmc graph` to SVG or PNG stops before exploring, in one line
that says how to install it (exit 5); `raftmc check --report` still writes a report, without
the cluster diagrams; a report is written whole or not at all.

"Without dot" is a PATH with no dot on it, as on a machine where Graphviz was never installed:
both our check and the graphviz package's own call of the program look there.
"""

from __future__ import annotations

import errno
import re

import pytest
from raftkit.modelcheck.cli import main
from raftkit.modelcheck.cli.errors import EXIT_IO, EXIT_NO_GRAPHVIZ, EXIT_VIOLATION
from raftkit.modelcheck.engine import graph as engine_graph
from raftkit.modelcheck.pictures import files

# A mutant found in a few seconds, with a counterexample to draw.
MUTANT = ["--mutant", "forget-vote-on-restart"]


@pytest.fixture
def no_dot(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def no_search(monkeypatch):
    def searched(*args, **kwargs):
        raise AssertionError("explored before checking for Graphviz")

    monkeypatch.setattr(engine_graph, "explore", searched)


@pytest.mark.parametrize("output", ["-", "g.svg", "g.png"])
def test_graph_to_svg_or_png_without_dot_stops_before_exploring(
    no_dot, no_search, tmp_path, capsys, output
):
    args = ["graph", "--max-term", "1"]
    if output == "-":
        args += ["--format", "svg"]
    else:
        args += ["-o", str(tmp_path / output)]
    assert main(args) == EXIT_NO_GRAPHVIZ
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("raftmc: error: --format ")
    assert "Graphviz's dot program is not installed" in lines[0]
    assert "apt-get install graphviz" in lines[0]
    assert list(tmp_path.glob("g.*")) == []


def test_graph_as_dot_or_json_needs_no_graphviz(no_dot, tmp_path, capsys):
    assert main(["graph", "--max-term", "1"]) == 0
    assert capsys.readouterr().out.startswith("digraph")
    assert main(["graph", "--max-term", "1", "-o", str(tmp_path / "g.json")]) == 0
    assert (tmp_path / "g.json").read_text().startswith("{")


def test_report_without_dot_has_everything_but_the_cluster_diagrams(no_dot, tmp_path, capsys):
    report = tmp_path / "report"
    assert main(["check", *MUTANT, "--report", str(report)]) == EXIT_VIOLATION
    err = capsys.readouterr().err.splitlines()
    # Said first, before the search.
    assert err[0].startswith("raftmc: --report: no cluster diagrams: Graphviz's dot program")
    assert "Traceback" not in "\n".join(err)
    page = (report / "index.html").read_text()
    assert "No cluster diagram for each step" in page and "apt-get install graphviz" in page
    assert "Step 1 of" in page and "Counterexample" in page
    pictures = sorted(p.name for p in (report / "img").iterdir())
    assert pictures == ["sequence.svg"]
    assert (report / "img" / "sequence.svg").read_text().startswith("<svg")
    # Every picture the page shows is there.
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (report / src).is_file(), src


def test_a_report_that_cannot_be_written_leaves_nothing_half_written(tmp_path, capsys):
    # img is a file: the first picture cannot be written, and the page never is.
    report = tmp_path / "report"
    report.mkdir()
    (report / "img").write_text("in the way\n")
    assert main(["check", *MUTANT, "--report", str(report)]) == EXIT_IO
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"raftmc: error: {report / 'img'}"), err
    assert sorted(p.name for p in report.iterdir()) == ["img"]
    assert (report / "img").read_text() == "in the way\n"


def test_write_files_takes_back_what_it_wrote_and_names_the_file(tmp_path, monkeypatch):
    written = []
    real = files.write_file

    def disk_full_on_the_third(path, data):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)
        written.append(path)

    monkeypatch.setattr(files, "write_file", disk_full_on_the_third)
    out = tmp_path / "new" / "report"
    with pytest.raises(OSError):
        files.write_files(out, {"img/a.svg": "a", "img/b.svg": "b", "index.html": "page"})
    assert written and not (tmp_path / "new").exists()

    # The file that failed is named by write_file itself.
    monkeypatch.setattr(files, "write_file", real)
    with pytest.raises(OSError) as failed:
        files.write_file("/dev/full", "x" * 100_000)
    assert failed.value.filename == "/dev/full"
