"""The KV state machine (operations, sessions, snapshots) and the messages' wire form."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raftkit.impl.kv import Command, CommandError, KVStore
from raftkit.impl.membership import Membership
from raftkit.impl.messages import (
    ENTRY_NOOP,
    MESSAGE_TYPES,
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    InstallSnapshot,
    InstallSnapshotResponse,
    Message,
    PreVote,
    PreVoteResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
    WireError,
    message_from_wire,
)


def apply_all(kv: KVStore, *cmds: Command):
    out = []
    for c in cmds:
        out.append(kv.apply(Entry(1, kv.applied_index + 1, c.encode())))
    return out


# ---------------------------------------------------------------- KV


def test_kv_operations():
    kv = KVStore()
    r = apply_all(
        kv,
        Command("get", "a"),
        Command("put", "a", "1"),
        Command("get", "a"),
        Command("cas", "a", "2", expected="0"),
        Command("cas", "a", "2", expected="1"),
        Command("cas", "b", "x", expected=None),
        Command("cas", "b", "y", expected=None),
        Command("delete", "a"),
        Command("get", "a"),
    )
    assert [(x.ok, x.value) for x in r] == [
        (False, None),
        (True, None),
        (True, "1"),
        (False, "1"),
        (True, "2"),
        (True, "x"),
        (False, "x"),
        (True, "2"),
        (False, None),
    ]
    assert kv.data == {"b": "x"} and kv.applied_index == 9


def test_noop_entries_are_skipped_but_counted():
    kv = KVStore()
    assert kv.apply(Entry(1, 1, b"", ENTRY_NOOP)) is None
    assert kv.applied_index == 1
    with pytest.raises(ValueError):
        kv.apply(Entry(1, 3, b""))


def test_session_retry_is_applied_once():
    kv = KVStore()
    first, other, retry = apply_all(
        kv,
        Command("put", "x", 1, client_id="c", seq=1),
        Command("put", "x", 2, client_id="d", seq=1),
        Command("put", "x", 1, client_id="c", seq=1),
    )
    assert retry.duplicate and retry.to_dict() == first.to_dict()
    assert kv.get("x") == 2


def test_session_refuses_stale_sequence_numbers():
    kv = KVStore()
    _, _, stale = apply_all(
        kv,
        Command("put", "x", 1, client_id="c", seq=1),
        Command("put", "x", 2, client_id="c", seq=2),
        Command("put", "x", 3, client_id="c", seq=1),
    )
    assert not stale.ok and "stale" in stale.error and kv.get("x") == 2


def test_snapshot_round_trip_keeps_sessions():
    kv = KVStore()
    apply_all(kv, Command("put", "x", 1, client_id="c", seq=7), Command("put", "y", b"\x00"))
    other = KVStore()
    other.restore(kv.snapshot())
    assert other.data == kv.data and other.applied_index == 2
    [r] = apply_all(other, Command("put", "x", 5, client_id="c", seq=7))
    assert r.duplicate and other.get("x") == 1


def test_session_eviction_is_deterministic():
    a, b = KVStore(max_sessions=2), KVStore(max_sessions=2)
    cmds = [Command("put", "k", i, client_id=f"c{i % 3}", seq=i) for i in range(1, 10)]
    apply_all(a, *cmds)
    apply_all(b, *cmds)
    assert list(a.sessions) == list(b.sessions) == ["c2", "c0"]


def test_malformed_command_is_rejected_the_same_everywhere():
    kv = KVStore()
    r = kv.apply(Entry(1, 1, b"\xc1garbage"))
    assert not r.ok and "command" in r.error
    with pytest.raises(CommandError, match="op"):
        Command.decode(msgpack.packb([1, "explode", "k", None, None, None, 0]))


# ---------------------------------------------------------------- messages

ints = st.integers(min_value=0, max_value=2**40)
node_ids = st.sampled_from(["n1", "n2", "n3"])


memberships = st.dictionaries(node_ids, st.text(max_size=20), min_size=1).map(
    lambda d: Membership.of(d.items()).encode()
)


def base(cls):
    return {"term": ints, "src": node_ids, "dst": node_ids, "id": st.text(max_size=10)}


messages = st.one_of(
    st.builds(RequestVote, **base(RequestVote), last_log_index=ints, last_log_term=ints),
    st.builds(RequestVoteResponse, **base(RequestVoteResponse), vote_granted=st.booleans()),
    st.builds(PreVote, **base(PreVote), last_log_index=ints, last_log_term=ints),
    st.builds(PreVoteResponse, **base(PreVoteResponse), vote_granted=st.booleans()),
    st.builds(
        lambda term, src, dst, mid, prev, prev_term, bumps, datas, commit, rnd: AppendEntries(
            term + prev_term + sum(bumps),
            src,
            dst,
            mid,
            prev,
            prev_term,
            tuple(
                Entry(prev_term + sum(bumps[: i + 1]), prev + i + 1, d)
                for i, d in enumerate(datas[: len(bumps)])
            ),
            commit,
            rnd,
        ),
        ints,
        node_ids,
        node_ids,
        st.text(max_size=10),
        ints,
        ints,
        st.lists(st.integers(0, 2), max_size=4),
        st.lists(st.binary(max_size=20), min_size=4, max_size=4),
        ints,
        ints,
    ),
    st.builds(
        AppendEntriesResponse,
        **base(AppendEntriesResponse),
        success=st.booleans(),
        match_index=ints,
        prev_log_index=ints,
        conflict_index=ints,
        conflict_term=ints,
        round=ints,
    ),
    st.builds(
        InstallSnapshot,
        **base(InstallSnapshot),
        last_included_index=ints,
        last_included_term=ints,
        data=st.binary(max_size=50),
        round=ints,
        membership=st.one_of(st.just(b""), memberships),
    ),
    st.builds(InstallSnapshotResponse, **base(InstallSnapshotResponse), match_index=ints),
    st.builds(TimeoutNow, **base(TimeoutNow)),
    st.builds(
        lambda term, src, dst, mid, config: AppendEntries(
            term, src, dst, mid, 0, 0, (Entry(term, 1, config, "config"),), 0
        ),
        ints,
        node_ids,
        node_ids,
        st.text(max_size=10),
        memberships,
    ),
)


@settings(max_examples=150, deadline=None)
@given(messages)
def test_wire_round_trip_through_msgpack(msg):
    raw = msgpack.packb(msg.to_wire(), use_bin_type=True)
    back = message_from_wire(msgpack.unpackb(raw, raw=False))
    assert back == msg and back.id == msg.id
    assert type(msg).from_wire(msg.to_wire()) == msg
    assert Message.from_wire(msg.to_wire()) == msg


def test_every_message_type_is_registered():
    assert set(MESSAGE_TYPES) == {
        "RequestVote", "RequestVoteResponse", "PreVote", "PreVoteResponse", "AppendEntries",
        "AppendEntriesResponse", "InstallSnapshot", "InstallSnapshotResponse", "TimeoutNow",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.pop("term"), "AppendEntries.term: missing"),
        (lambda d: d.update(term=-1), "AppendEntries.term"),
        (lambda d: d.update(src=3), "AppendEntries.src"),
        (lambda d: d.update(type="Gossip"), "unknown message type"),
        (lambda d: d.update(entries=[[1, 2, "weird", b""]]), "entries[0].kind"),
        (lambda d: d.update(entries=[[1]]), "entries[0]"),
        (lambda d: d.update(leader_commit=True), "leader_commit"),
        (lambda d: d.update(entries=[[1, 5, "normal", b""]]), "entries[0].index: expected 1"),
        (lambda d: d.update(entries=[[9, 1, "normal", b""]]), "entries[0].term"),
        (lambda d: d.update(prev_log_term=4), "prev_log_term"),
    ],
)
def test_wire_errors_name_the_field(mutate, needle):
    d = AppendEntries(1, "n1", "n2", "n1.0.1", 0, 0, (Entry(1, 1, b"x"),), 0).to_wire()
    assert message_from_wire(dict(d)).entries == (Entry(1, 1, b"x"),)
    mutate(d)
    with pytest.raises(WireError) as exc:
        message_from_wire(d)
    assert needle in str(exc.value)


def test_from_wire_on_a_subclass_checks_the_type():
    d = RequestVote(1, "n1", "n2", "x", 0, 0).to_wire()
    with pytest.raises(WireError, match="expected AppendEntries"):
        AppendEntries.from_wire(d)
