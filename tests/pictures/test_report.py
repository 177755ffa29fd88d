"""The HTML report: self-contained in its folder, every picture loads in a real browser."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
from raftkit.modelcheck import check
from raftkit.modelcheck.cli.app import main
from raftkit.modelcheck.pictures.report import write_report
from raftkit.spec.params import Params

from .helpers import NothingCommitted, need


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "data", "poster", "srcset", "action") and value:
                self.refs.append(value)


def assert_self_contained(folder: Path) -> None:
    """Every reference in the HTML and its SVGs is a file inside ``folder`` or an anchor."""
    html = (folder / "index.html").read_text()
    parser = _Refs()
    parser.feed(html)
    assert "url(" not in html and "@import" not in html
    for ref in parser.refs:
        if ref.startswith("#"):
            anchor = ref[1:]
            assert f'id="{anchor}"' in html, f"dangling link {ref}"
            continue
        assert not urlparse(ref).scheme and not ref.startswith("/"), ref
        target = (folder / ref).resolve()
        assert target.is_relative_to(folder.resolve()) and target.is_file(), ref
    for svg in folder.rglob("*.svg"):
        root = ET.parse(svg).getroot()  # every picture is well-formed XML
        for el in root.iter():
            for name, value in el.attrib.items():
                if name.endswith("href"):
                    assert value.startswith("#"), f"{svg.name}: {value}"
        text = svg.read_text()
        assert "<!DOCTYPE" not in text
        # url(#id) references markers inside the same file; nothing else may appear.
        assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", text))


def open_in_chromium(index: Path, tmp_path: Path) -> str:
    """The DOM after the page loaded in headless Chromium, with no network."""
    chromium = need("chromium")
    out = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--dump-dom",
            index.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


def body_marks(dom: str) -> dict[str, str]:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', body.group(1)))


@pytest.fixture(scope="module")
def violation_report(tmp_path_factory):
    need("dot")
    model = NothingCommitted(Params(servers=2, max_term=2, max_log=1))
    result = check(model)
    assert result.violation is not None
    folder = tmp_path_factory.mktemp("report")
    write_report(folder, result, model, {"servers": 2, "max_term": 2, "max_log": 1})
    return folder, result


def test_violation_report_has_every_step_and_picture(violation_report):
    folder, result = violation_report
    html = (folder / "index.html").read_text()
    n = len(result.violation.trace)
    assert "NothingCommitted is violated" in html
    for k in range(1, n + 1):
        assert f'id="step-{k}"' in html
        assert (folder / "img" / f"step-{k:03d}.svg").is_file()
    assert f'href="#step-{n}"' in html and f'href="#step-{n - 1}"' in html
    assert (folder / "img" / "sequence.svg").is_file()
    assert "Coverage" in html and "Sometimes properties" in html
    assert_self_contained(folder)


def test_violation_report_renders_in_chromium(violation_report, tmp_path):
    folder, result = violation_report
    marks = body_marks(open_in_chromium(folder / "index.html", tmp_path))
    assert marks["data-images-loaded"] == "all"
    assert int(marks["data-images"]) == len(result.violation.trace) + 1
    assert marks["data-outside"] == ""


def test_cli_check_report_of_a_clean_run(tmp_path, capsys):
    folder = tmp_path / "rep"
    code = main(
        [
            "check",
            "--servers",
            "2",
            "--max-term",
            "2",
            "--max-log",
            "1",
            "--report",
            str(folder),
            "--itf",
            str(tmp_path / "t.itf.json"),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "report written" in err and "no counterexample" in err
    html = (folder / "index.html").read_text()
    assert "every property holds" in html
    # A clean run shows how its sometimes-properties are reached.
    assert "How LeaderElected is reached" in html
    assert (folder / "img" / "witness-1.svg").is_file()
    assert_self_contained(folder)
    marks = body_marks(open_in_chromium(folder / "index.html", tmp_path))
    assert marks["data-images-loaded"] == "all" and marks["data-outside"] == ""


@pytest.mark.slow
def test_cli_check_mutant_report_and_itf(tmp_path):
    import json

    import jsonschema

    from .helpers import schema

    folder = tmp_path / "rep"
    itf = tmp_path / "cex.itf.json"
    code = main(
        [
            "check",
            "--mutant",
            "forget-vote-on-restart",
            "--json",
            "--report",
            str(folder),
            "--itf",
            str(itf),
        ]
    )
    assert code == 1
    data = json.loads(itf.read_text())
    jsonschema.validate(data, schema("itf.schema.json"))
    assert len(data["states"]) == len(list((folder / "img").glob("step-*.svg")))
    assert_self_contained(folder)
    marks = body_marks(open_in_chromium(folder / "index.html", tmp_path))
    assert marks["data-images-loaded"] == "all" and marks["data-outside"] == ""
