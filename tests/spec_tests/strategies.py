"""Hypothesis strategies for spec states, reachable or not."""

from hypothesis import strategies as st
from raftkit.spec.state import (
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Election,
    Entry,
    Ghost,
    History,
    MType,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    Server,
    State,
)

entries = st.builds(Entry, term=st.integers(1, 3), value=st.integers(1, 2))
logs = st.lists(entries, max_size=3).map(tuple)


def sorted_set(elements, max_size=4):
    return st.lists(elements, max_size=max_size, unique=True).map(lambda xs: tuple(sorted(xs)))


def messages(n):
    ids = st.integers(0, n - 1)
    terms = st.integers(1, 3)
    return st.one_of(
        st.builds(
            RequestVoteRequest,
            mtype=st.just(MType.RequestVoteRequest),
            mterm=terms,
            mlastLogTerm=st.integers(0, 3),
            mlastLogIndex=st.integers(0, 3),
            msource=ids,
            mdest=ids,
        ),
        st.builds(
            RequestVoteResponse,
            mtype=st.just(MType.RequestVoteResponse),
            mterm=terms,
            mvoteGranted=st.booleans(),
            mlog=logs,
            msource=ids,
            mdest=ids,
        ),
        st.builds(
            AppendEntriesRequest,
            mtype=st.just(MType.AppendEntriesRequest),
            mterm=terms,
            mprevLogIndex=st.integers(0, 3),
            mprevLogTerm=st.integers(0, 3),
            mentries=st.lists(entries, max_size=1).map(tuple),
            mlog=logs,
            mcommitIndex=st.integers(0, 3),
            msource=ids,
            mdest=ids,
        ),
        st.builds(
            AppendEntriesResponse,
            mtype=st.just(MType.AppendEntriesResponse),
            mterm=terms,
            msuccess=st.booleans(),
            mmatchIndex=st.integers(0, 3),
            msource=ids,
            mdest=ids,
        ),
    )


def servers(n):
    ids = st.integers(0, n - 1)
    return st.builds(
        Server,
        currentTerm=st.integers(1, 3),
        state=st.sampled_from(list(Role)),
        votedFor=st.one_of(st.just(NIL), ids),
        log=logs,
        commitIndex=st.integers(0, 3),
        votesResponded=sorted_set(ids),
        votesGranted=sorted_set(ids),
        nextIndex=st.tuples(*[st.integers(1, 4)] * n),
        matchIndex=st.tuples(*[st.integers(0, 3)] * n),
    )


@st.composite
def states(draw, n=None, history=None, ghost=None):
    """Any well-typed state of ``n`` servers: reachable or not."""
    if n is None:
        n = draw(st.integers(1, 4))
    ids = st.integers(0, n - 1)
    srvs = tuple(draw(servers(n)) for _ in range(n))
    bag = draw(
        st.dictionaries(messages(n), st.integers(1, 2), max_size=4).map(
            lambda d: tuple(sorted(d.items()))
        )
    )
    h = ()
    if history if history is not None else draw(st.booleans()):
        voter_logs = st.dictionaries(ids, logs, max_size=n).map(lambda d: tuple(sorted(d.items())))
        elections = sorted_set(
            st.builds(
                Election,
                eterm=st.integers(1, 3),
                eleader=ids,
                elog=logs,
                evotes=sorted_set(ids),
                evoterLog=voter_logs,
            ),
            max_size=2,
        )
        h = History(
            elections=draw(elections),
            allLogs=draw(sorted_set(logs, max_size=3)),
            voterLog=tuple(draw(voter_logs) for _ in range(n)),
        )
    g = ()
    if ghost if ghost is not None else draw(st.booleans()):
        g = Ghost(
            elected=draw(sorted_set(st.tuples(st.integers(1, 3), ids), max_size=3)),
            committed=draw(
                sorted_set(st.tuples(st.integers(1, 3), entries, st.integers(1, 3)), max_size=3)
            ),
        )
    return State(servers=srvs, messages=bag, history=h, ghost=g)
