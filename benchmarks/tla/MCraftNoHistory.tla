--------------------------- MODULE MCraftNoHistory ---------------------------
\* RaftNoHistory (raft.tla without its history variables) bounded for TLC, as
\* MCraft bounds raft.tla: the same operator names, so one .cfg file serves
\* both modules.
EXTENDS RaftNoHistory, RaftBounds

InBounds == WithinBounds(Server, currentTerm, log, messages)

\* Next without Restart, DuplicateMessage and DropMessage.
NextNoFaults ==
    \/ \E i \in Server : Timeout(i)
    \/ \E i,j \in Server : RequestVote(i, j)
    \/ \E i \in Server : BecomeLeader(i)
    \/ \E i \in Server, v \in Value : ClientRequest(i, v)
    \/ \E i \in Server : AdvanceCommitIndex(i)
    \/ \E i,j \in Server : AppendEntries(i, j)
    \/ \E m \in DOMAIN messages : Receive(m)

Symmetry == Permutations(Server)
===============================================================================
