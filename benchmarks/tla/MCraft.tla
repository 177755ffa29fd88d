-------------------------------- MODULE MCraft --------------------------------
\* raft.tla (unmodified, with its history variables elections, allLogs,
\* voterLog and the mlog message field) bounded for TLC: the state constraint,
\* a Next without faults, and the symmetry of the servers. Which of them a run
\* uses is chosen in its .cfg file (CONSTRAINT, NEXT, SYMMETRY).
EXTENDS raft, RaftBounds

InBounds == WithinBounds(Server, currentTerm, log, messages)

\* raft.tla's Next without Restart, DuplicateMessage and DropMessage: servers
\* never crash and the network neither copies nor loses a message. The
\* allLogs update stays: it belongs to every step of raft.tla.
NextNoFaults ==
    /\ \/ \E i \in Server : Timeout(i)
       \/ \E i,j \in Server : RequestVote(i, j)
       \/ \E i \in Server : BecomeLeader(i)
       \/ \E i \in Server, v \in Value : ClientRequest(i, v)
       \/ \E i \in Server : AdvanceCommitIndex(i)
       \/ \E i,j \in Server : AppendEntries(i, j)
       \/ \E m \in DOMAIN messages : Receive(m)
    /\ allLogs' = allLogs \cup {log[i] : i \in Server}

\* Every permutation of the server ids maps a behaviour to a behaviour.
Symmetry == Permutations(Server)
===============================================================================
