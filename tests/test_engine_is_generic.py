"""The engine (``raftkit.modelcheck.engine``) knows no Raft: it imports neither the spec, nor the
implementation, nor the Raft-specific tools beside it (which import the spec)."""

import ast
import subprocess
import sys
from pathlib import Path

import raftkit.modelcheck.engine as engine

ENGINE = Path(engine.__file__).parent
# Everything of raftkit the engine may import: itself.
ALLOWED = "raftkit.modelcheck.engine"


def _imports(path: Path) -> list[str]:
    """The absolute names of the raftkit modules a file imports (relative imports resolved)."""
    package = "raftkit.modelcheck." + ".".join(path.relative_to(ENGINE.parent).parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append(target)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [n for n in names if n.startswith("raftkit")]


def test_no_engine_module_imports_raft():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) >= 15
    offending = {
        str(f.relative_to(ENGINE)): bad
        for f in files
        if (bad := [n for n in _imports(f) if not n.startswith(ALLOWED)])
    }
    assert offending == {}


def test_a_search_loads_no_raft_module():
    # A search of a toy model, in a fresh interpreter: nothing of spec or impl gets imported,
    # not even lazily.
    code = (
        "import sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from toy_models import dials\n"
        "from raftkit.modelcheck.engine import check\n"
        "r = check(dials(3, 4))\n"
        "assert r.result == 'ok', r\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('raftkit.spec', 'raftkit.impl')))\n"
        "print(bad)\n"
    )
    root = Path(__file__).parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
