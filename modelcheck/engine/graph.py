"""The reachable state graph of a model: its nodes, its edges, and views small enough to draw.

:func:`.checker.check` keeps only fingerprints and parent links, which is what a search of
millions of states can afford. A picture needs more: every state and every edge. So this module
runs its own breadth-first search over the same :class:`.model.Model` protocol, keeping whole
states, and is meant for the small configurations a person can look at.
The engine's hot loop stays as it is.

Nodes are numbered in breadth-first order (the initial states first), so a state's id is the same
from one run to the next and can be passed back, e.g. to ``raftmc graph --around ID``.

With symmetry reduction a node stands for a whole class of states and shows the first member the
search met. An edge's label names servers as the *source* node's state does; the target node may
show a relabelling of the state the action really produced.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import Label, Model


@dataclass
class Node:
    """One distinct state (one symmetry class with symmetry reduction)."""

    id: int
    state: Any
    #: Breadth-first level, counted as the search counts it (and TLC): initial states are at
    #: depth 1.
    depth: int
    #: The node's parent in the breadth-first tree, so a path from an initial state is a
    #: shortest one; ``None`` for an initial state.
    parent: int | None = None
    #: False for a state outside the model's bounds; such a state is kept only when it breaks a
    #: property (the engine reports those too), and is never expanded.
    in_bounds: bool = True
    #: The invariants this state breaks.
    violations: tuple[str, ...] = ()
    #: True when the search stopped before expanding this state (``max_nodes``).
    unexpanded: bool = False

    @property
    def initial(self) -> bool:
        """True for an initial state."""
        return self.depth == 1


@dataclass(frozen=True)
class Edge:
    """One enabled action instance: ``label`` taken in ``source`` leads to ``target``."""

    source: int
    target: int
    label: Label
    #: The action properties this step breaks.
    violations: tuple[str, ...] = ()


@dataclass
class StateGraph:
    """Nodes and edges, ids being indexes into ``nodes`` (after :meth:`restrict`, a subset)."""

    nodes: dict[int, Node]
    edges: list[Edge]
    #: False when the search stopped at ``max_nodes`` with states still unexpanded.
    complete: bool = True
    #: How many nodes the whole graph had before :meth:`restrict`.
    total_nodes: int = 0
    total_edges: int = 0

    def violating_ids(self) -> list[int]:
        """Ids of the states that break an invariant or are reached by a step breaking an
        action property, in breadth-first order."""
        bad = {n.id for n in self.nodes.values() if n.violations}
        bad.update(e.target for e in self.edges if e.violations)
        return sorted(bad)

    def path_to(self, node_id: int) -> list[int]:
        """Node ids of a shortest path from an initial state to ``node_id`` (breadth-first tree)."""
        path = []
        current: int | None = node_id
        while current is not None:
            path.append(current)
            current = self.nodes[current].parent
        return path[::-1]

    def counterexample_edges(self) -> set[tuple[int, int]]:
        """``(source, target)`` pairs on a shortest path to some violating state."""
        pairs: set[tuple[int, int]] = set()
        for bad in self.violating_ids():
            path = self.path_to(bad)
            pairs.update(zip(path, path[1:], strict=False))
        return pairs

    def counterexample_ids(self) -> set[int]:
        """Ids of every state on a shortest path to some violating state."""
        ids: set[int] = set()
        for bad in self.violating_ids():
            ids.update(self.path_to(bad))
        return ids

    def neighbourhood(self, center: int, radius: int) -> set[int]:
        """Ids within ``radius`` steps of ``center``, following edges either way."""
        if center not in self.nodes:
            raise KeyError(center)
        adjacent: dict[int, set[int]] = {}
        for e in self.edges:
            adjacent.setdefault(e.source, set()).add(e.target)
            adjacent.setdefault(e.target, set()).add(e.source)
        seen = {center}
        frontier = [center]
        for _ in range(radius):
            nxt = []
            for nid in frontier:
                for other in adjacent.get(nid, ()):
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
        return seen

    def restrict(self, ids: Iterable[int]) -> StateGraph:
        """The subgraph on ``ids`` (edges with both ends inside), remembering the full size.

        Breadth-first parents outside ``ids`` are kept as they are: :meth:`path_to` needs the
        whole tree, so restrict after computing paths.
        """
        keep = set(ids)
        return StateGraph(
            nodes={i: n for i, n in self.nodes.items() if i in keep},
            edges=[e for e in self.edges if e.source in keep and e.target in keep],
            complete=self.complete,
            total_nodes=self.total_nodes,
            total_edges=self.total_edges,
        )


def explore(
    model: Model[Any], max_nodes: int | None = None, stop_after_violations: int | None = None
) -> StateGraph:
    """Every state of ``model`` reachable within its bounds, with every edge between them.

    States that break an invariant are kept but not expanded (what follows a violation is not
    of interest); out-of-bounds successors are kept only when they break an invariant or their
    step breaks an action property, as the engine would report them. The search stops once it
    holds ``max_nodes`` states, or once it has found ``stop_after_violations`` violating states;
    the graph is then marked incomplete. Breadth-first order is the same either way, so a state
    has the same id in a partial graph as in the whole one.
    """
    props = model.properties()
    invariants = tuple((p.name, p.holds) for p in props.invariants)
    action_props = tuple((p.name, p.holds) for p in props.action_properties)
    canonical = model.canonical

    nodes: dict[int, Node] = {}
    ids: dict[Hashable, int] = {}
    edges: list[Edge] = []
    queue: deque[int] = deque()
    limit = max_nodes if max_nodes is not None else float("inf")
    enough = stop_after_violations if stop_after_violations is not None else float("inf")
    found = 0

    def broken(state: Any) -> tuple[str, ...]:
        return tuple(name for name, holds in invariants if not holds(state))

    def add(state: Any, depth: int, parent: int | None, in_bounds: bool) -> int:
        nid = len(nodes)
        node = Node(nid, state, depth, parent, in_bounds, broken(state))
        nodes[nid] = node
        if in_bounds and not node.violations:
            queue.append(nid)
        return nid

    for state in model.init_states():
        key = canonical(state)
        if key in ids:
            continue
        in_bounds = model.within_bounds(state)
        if not in_bounds and not broken(state):
            continue
        ids[key] = add(state, 1, None, in_bounds)

    complete = True
    while queue:
        nid = queue.popleft()
        source = nodes[nid]
        for label, succ in model.successors(source.state):
            step_broken = tuple(
                name for name, holds in action_props if not holds(source.state, label, succ)
            )
            key = canonical(succ)
            target = ids.get(key)
            if target is None:
                in_bounds = model.within_bounds(succ)
                if not in_bounds and not step_broken and not broken(succ):
                    continue
                if len(nodes) >= limit:
                    complete = False
                    continue
                target = ids[key] = add(succ, source.depth + 1, nid, in_bounds)
                found += bool(nodes[target].violations or step_broken)
            elif step_broken:
                found += 1
            edges.append(Edge(nid, target, label, step_broken))
        if found >= enough and queue:
            complete = False
        if not complete:
            break
    if not complete:
        for left in queue:
            nodes[left].unexpanded = True
    return StateGraph(nodes, edges, complete, len(nodes), len(edges))


@dataclass
class Group:
    """A node of a quotient graph: every state with one value of the projection."""

    id: int
    key: Hashable
    members: list[int] = field(default_factory=list)
    depth: int = 0
    initial: bool = False
    violating: bool = False


@dataclass
class QuotientGraph:
    """States grouped by a projection; edges between groups count the edges they stand for."""

    groups: list[Group]
    #: (source group, target group) -> action name -> number of edges.
    edges: dict[tuple[int, int], Counter[str]]
    projection: str


def quotient(graph: StateGraph, projection: Callable[[Any], Hashable], name: str) -> QuotientGraph:
    """The graph with states grouped by ``projection(state)``.

    A group's depth is the least depth of its members; it is initial (violating) when some member
    is. Edges are counted per action name, self-loops included.
    """
    by_key: dict[Hashable, Group] = {}
    group_of: dict[int, int] = {}
    violating = set(graph.violating_ids())
    for node in sorted(graph.nodes.values(), key=lambda n: n.id):
        key = projection(node.state)
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = Group(len(by_key), key, depth=node.depth)
        group.members.append(node.id)
        group.depth = min(group.depth, node.depth)
        group.initial = group.initial or node.initial
        group.violating = group.violating or node.id in violating
        group_of[node.id] = group.id
    edges: dict[tuple[int, int], Counter[str]] = {}
    for e in graph.edges:
        pair = (group_of[e.source], group_of[e.target])
        edges.setdefault(pair, Counter())[str(e.label[0])] += 1
    return QuotientGraph(list(by_key.values()), edges, name)


def graph_to_json(
    graph: StateGraph,
    describe: Callable[[Any], Mapping[str, Any]],
    format_label: Callable[[Label], str],
    summary: Callable[[Any], str] | None = None,
) -> dict[str, Any]:
    """The graph as a JSON object: ``nodes`` with their state, ``edges`` with their action."""
    bold = graph.counterexample_edges()
    nodes = []
    for node in sorted(graph.nodes.values(), key=lambda n: n.id):
        item: dict[str, Any] = {
            "id": node.id,
            "depth": node.depth,
            "parent": node.parent,
            "initial": node.initial,
            "in_bounds": node.in_bounds,
            "violations": list(node.violations),
            "unexpanded": node.unexpanded,
            "state": dict(describe(node.state)),
        }
        if summary is not None:
            item["summary"] = summary(node.state)
        nodes.append(item)
    edges = [
        {
            "source": e.source,
            "target": e.target,
            "action": format_label(e.label),
            "action_name": str(e.label[0]),
            "violations": list(e.violations),
            "on_counterexample_path": (e.source, e.target) in bold,
        }
        for e in graph.edges
    ]
    return {
        "complete": graph.complete,
        "total_nodes": graph.total_nodes,
        "total_edges": graph.total_edges,
        "nodes": nodes,
        "edges": edges,
    }


def quotient_to_json(q: QuotientGraph, show_key: Callable[[Hashable], str]) -> dict[str, Any]:
    """A quotient graph as a JSON object: groups with their size, edges with counts per action."""
    return {
        "projection": q.projection,
        "groups": [
            {
                "id": g.id,
                "key": show_key(g.key),
                "states": len(g.members),
                "members": g.members,
                "depth": g.depth,
                "initial": g.initial,
                "violating": g.violating,
            }
            for g in q.groups
        ],
        "edges": [
            {"source": s, "target": t, "count": sum(c.values()), "actions": dict(sorted(c.items()))}
            for (s, t), c in q.edges.items()
        ],
    }


# --- drawing ------------------------------------------------------------------------------------

# Colours shared with the cluster diagrams, so a reader learns them once.
INITIAL_FILL = "#dbeafe"
VIOLATION_FILL = "#fecaca"
VIOLATION_LINE = "#b91c1c"
PATH_LINE = "#b91c1c"


def _dot_text(lines: Iterable[str]) -> str:
    # "\l" ends a left-justified line in Graphviz; a backslash of the text itself must not start
    # an escape.
    return "".join(line.replace("\\", "\\\\") + "\\l" for line in lines)


def graph_to_dot(
    graph: StateGraph,
    node_lines: Callable[[Any], list[str]],
    edge_text: Callable[[Label], str],
    title: str = "",
) -> Any:
    """The graph as a ``graphviz.Digraph``: one rank per breadth-first depth, the initial states
    blue, violating states red, shortest paths to them bold, parallel edges merged into one with
    every action on its label."""
    import graphviz

    dot = graphviz.Digraph("states", strict=False)
    dot.attr(
        rankdir="TB",
        fontname="DejaVu Sans",
        labelloc="t",
        label=title,
        nodesep="0.25",
        ranksep="0.45",
    )
    dot.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fillcolor="white",
        fontname="DejaVu Sans Mono",
        fontsize="9",
        margin="0.08,0.04",
    )
    dot.attr("edge", fontname="DejaVu Sans", fontsize="8", color="#475569", arrowsize="0.6")

    violating = set(graph.violating_ids())
    bold = graph.counterexample_edges()
    by_depth: dict[int, list[Node]] = {}
    for node in graph.nodes.values():
        by_depth.setdefault(node.depth, []).append(node)
    for depth in sorted(by_depth):
        with dot.subgraph(name=f"depth{depth}") as rank:
            rank.attr(rank="min" if depth == 1 else "same")
            for node in sorted(by_depth[depth], key=lambda n: n.id):
                head = f"#{node.id}  depth {node.depth}"
                if node.initial:
                    head += "  initial"
                if not node.in_bounds:
                    head += "  (outside bounds)"
                if node.unexpanded:
                    head += "  (not expanded)"
                lines = [head, *node_lines(node.state)]
                bad = list(node.violations)
                bad += [v for e in graph.edges if e.target == node.id for v in e.violations]
                if bad:
                    lines.append("VIOLATES " + ", ".join(dict.fromkeys(bad)))
                attrs = {"id": f"n{node.id}"}
                if node.initial:
                    attrs.update(fillcolor=INITIAL_FILL, peripheries="2", penwidth="1.5")
                if node.id in violating:
                    attrs.update(fillcolor=VIOLATION_FILL, color=VIOLATION_LINE, penwidth="2.5")
                if not node.in_bounds:
                    attrs["style"] = "rounded,filled,dashed"
                rank.node(str(node.id), _dot_text(lines), **attrs)

    merged: dict[tuple[int, int], list[Edge]] = {}
    for e in graph.edges:
        merged.setdefault((e.source, e.target), []).append(e)
    for (source, target), group in merged.items():
        texts = list(dict.fromkeys(edge_text(e.label) for e in group))
        attrs = {}
        if (source, target) in bold:
            attrs.update(penwidth="3", color=PATH_LINE, fontcolor=PATH_LINE)
        if any(e.violations for e in group):
            attrs.update(color=VIOLATION_LINE, style="bold")
        if source == target:
            attrs["fontcolor"] = "#64748b"
        dot.edge(str(source), str(target), _dot_text(texts), **attrs)
    return dot


def quotient_to_dot(q: QuotientGraph, show_key: Callable[[Hashable], list[str]]) -> Any:
    """A quotient graph as a ``graphviz.Digraph``: groups with their size, edges with counts."""
    import graphviz

    dot = graphviz.Digraph("quotient", strict=False)
    dot.attr(
        rankdir="TB",
        fontname="DejaVu Sans",
        labelloc="t",
        label=f"states grouped by {q.projection}",
    )
    dot.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fillcolor="white",
        fontname="DejaVu Sans Mono",
        fontsize="9",
    )
    dot.attr("edge", fontname="DejaVu Sans", fontsize="8", color="#475569", arrowsize="0.6")
    # Groups are not forced onto depth ranks: a group spans several depths, and dot's own
    # layering of the (small) quotient reads better. Steps that stay inside a group are listed
    # in the group's box instead of as self-loops, whose labels would cover the other edges.
    for g in q.groups:
        states = "state" if len(g.members) == 1 else "states"
        lines = [f"group {g.id}: {len(g.members):,} {states}, depth {g.depth}+", *show_key(g.key)]
        inside = q.edges.get((g.id, g.id))
        if inside:
            lines.append("steps inside the group:")
            lines += [f"  {name} ×{n:,}" for name, n in sorted(inside.items())]
        attrs = {"id": f"g{g.id}"}
        if g.initial:
            attrs.update(fillcolor=INITIAL_FILL, peripheries="2")
        if g.violating:
            attrs.update(fillcolor=VIOLATION_FILL, color=VIOLATION_LINE, penwidth="2.5")
        dot.node(f"g{g.id}", _dot_text(lines), **attrs)
    for (s, t), counts in q.edges.items():
        if s == t:
            continue
        text = [f"{name} ×{n:,}" for name, n in sorted(counts.items())]
        dot.edge(
            f"g{s}", f"g{t}", _dot_text(text), penwidth=str(min(1 + sum(counts.values()) / 20, 4))
        )
    return dot


def shortest_witness(
    model: Model[Any],
    reached: Callable[..., bool],
    on_step: bool = False,
    max_nodes: int = 50_000,
) -> list[tuple[Label | None, Any]] | None:
    """A shortest behaviour whose last state (``on_step``: last step) satisfies ``reached``.

    ``reached(state)``, or ``reached(before, label, after)`` with ``on_step``. It shows a reader
    *how* a sometimes-property is reached. ``None`` when no behaviour within the bounds reaches
    it among the first ``max_nodes`` states.
    """
    canonical = model.canonical
    parents: dict[Hashable, tuple[Hashable | None, Label | None, Any]] = {}
    queue: deque[tuple[Hashable, Any]] = deque()

    def path(key: Hashable) -> list[tuple[Label | None, Any]]:
        steps = []
        current: Hashable | None = key
        while current is not None:
            parent, label, state = parents[current]
            steps.append((label, state))
            current = parent
        return steps[::-1]

    for state in model.init_states():
        key = canonical(state)
        if key in parents or not model.within_bounds(state):
            continue
        parents[key] = (None, None, state)
        if not on_step and reached(state):
            return path(key)
        queue.append((key, state))
    while queue and len(parents) < max_nodes:
        key, state = queue.popleft()
        for label, succ in model.successors(state):
            if not model.within_bounds(succ):
                continue
            if on_step and reached(state, label, succ):
                return [*path(key), (label, succ)]
            skey = canonical(succ)
            if skey in parents:
                continue
            parents[skey] = (key, label, succ)
            if not on_step and reached(succ):
                return path(skey)
            queue.append((skey, succ))
    return None
