----------------------------- MODULE RaftLiveness -----------------------------
\* Raft's liveness properties as raftmc states them (spec/liveness.py), over
\* raft.tla without its history variables, with the fairness raftmc assumes,
\* for TLC to check beside raftmc. Also two of raftmc's liveness mutants, each
\* a copy of one raft.tla action with its one wrong line.
EXTENDS MCraftNoHistory

\* --- the properties' state predicates --------------------------------------

NewestLeader(i) == /\ state[i] = Leader
                   /\ \A k \in Server : currentTerm[k] <= currentTerm[i]

HasNewestLeader == \E i \in Server : NewestLeader(i)

\* The index of the last entry of the leader's own term, 0 if none.
OwnTop(i) == LET own == {k \in 1..Len(log[i]) : log[i][k].term = currentTerm[i]}
             IN IF own = {} THEN 0 ELSE Max(own)

\* Every server stores the leader's whole log (its own may go on beyond it: an uncommitted entry
\* beyond the leader's last one stays until the leader sends one at its index).
Replicated == \E i \in Server :
                 /\ NewestLeader(i)
                 /\ \A k \in Server : /\ Len(log[k]) >= Len(log[i])
                                     /\ SubSeq(log[k], 1, Len(log[i])) = log[i]
                                     /\ commitIndex[k] >= OwnTop(i)

LeaderLogPending == HasNewestLeader /\ ~Replicated
LeaderLogDone == ~HasNewestLeader \/ Replicated

CommitPending == \E i \in Server : NewestLeader(i) /\ \E k \in Server : commitIndex[k] < commitIndex[i]
CommitKnownState == \A i \in Server : NewestLeader(i) => \A k \in Server : commitIndex[k] >= commitIndex[i]

UpToDate(c, k) == \/ LastTerm(log[c]) > LastTerm(log[k])
                  \/ /\ LastTerm(log[c]) = LastTerm(log[k])
                     /\ Len(log[c]) >= Len(log[k])

LoneCandidate ==
    /\ \A k \in Server : state[k] /= Leader
    /\ \E c \in Server :
          /\ state[c] = Candidate
          /\ \A k \in Server : currentTerm[k] <= currentTerm[c]
          /\ \A k \in Server \ {c} : ~(state[k] = Candidate /\ currentTerm[k] = currentTerm[c])
          /\ \A k \in Server : UpToDate(c, k)
          /\ {k \in Server : k \in votesGranted[c] \/ k \notin votesResponded[c]} \in Quorum

\* --- the properties ---------------------------------------------------------

LeaderLogReplicated == LeaderLogPending ~> LeaderLogDone
ElectionProgress == LoneCandidate ~> ~LoneCandidate
CommitKnown == CommitPending ~> CommitKnownState

\* --- fairness ----------------------------------------------------------------
\* Weak fairness of each instance of the leader's and candidate's work; strong
\* fairness of delivery from each server to each server. raftmc's is per
\* message; with at most one message in flight and no faults (every
\* configuration compared) the two are the same: a message stays in flight
\* until it is delivered, and is then the only one a pair can deliver.
ServerWork ==
    /\ \A i, j \in Server : WF_vars(RequestVote(i, j))
    /\ \A i \in Server : WF_vars(BecomeLeader(i))
    /\ \A i \in Server : WF_vars(AdvanceCommitIndex(i))
    /\ \A i, j \in Server : WF_vars(AppendEntries(i, j))

Delivery ==
    \A i, j \in Server :
        SF_vars(\E m \in DOMAIN messages : m.msource = i /\ m.mdest = j /\ Receive(m))

LiveSpec == Init /\ [][NextNoFaults]_vars /\ ServerWork /\ Delivery

\* --- mutant keep-next-index-on-reject: no back-off after a rejection ---------

KeepNextIndexHandleAppendEntriesResponse(i, j, m) ==
    /\ m.mterm = currentTerm[i]
    /\ \/ /\ m.msuccess
          /\ nextIndex'  = [nextIndex  EXCEPT ![i][j] = m.mmatchIndex + 1]
          /\ matchIndex' = [matchIndex EXCEPT ![i][j] = m.mmatchIndex]
       \/ /\ \lnot m.msuccess
          /\ UNCHANGED <<nextIndex, matchIndex>>   \* BUG: no decrement
    /\ Discard(m)
    /\ UNCHANGED <<serverVars, candidateVars, logVars>>

KeepNextIndexReceive(m) ==
    LET i == m.mdest
        j == m.msource
    IN \/ UpdateTerm(i, j, m)
       \/ /\ m.mtype = RequestVoteRequest
          /\ HandleRequestVoteRequest(i, j, m)
       \/ /\ m.mtype = RequestVoteResponse
          /\ \/ DropStaleResponse(i, j, m)
             \/ HandleRequestVoteResponse(i, j, m)
       \/ /\ m.mtype = AppendEntriesRequest
          /\ HandleAppendEntriesRequest(i, j, m)
       \/ /\ m.mtype = AppendEntriesResponse
          /\ \/ DropStaleResponse(i, j, m)
             \/ KeepNextIndexHandleAppendEntriesResponse(i, j, m)

KeepNextIndexNext ==
    \/ \E i \in Server : Timeout(i)
    \/ \E i,j \in Server : RequestVote(i, j)
    \/ \E i \in Server : BecomeLeader(i)
    \/ \E i \in Server, v \in Value : ClientRequest(i, v)
    \/ \E i \in Server : AdvanceCommitIndex(i)
    \/ \E i,j \in Server : AppendEntries(i, j)
    \/ \E m \in DOMAIN messages : KeepNextIndexReceive(m)

KeepNextIndexDelivery ==
    \A i, j \in Server :
        SF_vars(\E m \in DOMAIN messages : m.msource = i /\ m.mdest = j /\ KeepNextIndexReceive(m))

KeepNextIndexSpec == Init /\ [][KeepNextIndexNext]_vars /\ ServerWork /\ KeepNextIndexDelivery

\* --- mutant candidate-skips-own-vote: no RequestVote to itself ---------------

SkipOwnVoteRequestVote(i, j) == i /= j /\ RequestVote(i, j)   \* BUG: i /= j

SkipOwnVoteNext ==
    \/ \E i \in Server : Timeout(i)
    \/ \E i,j \in Server : SkipOwnVoteRequestVote(i, j)
    \/ \E i \in Server : BecomeLeader(i)
    \/ \E i \in Server, v \in Value : ClientRequest(i, v)
    \/ \E i \in Server : AdvanceCommitIndex(i)
    \/ \E i,j \in Server : AppendEntries(i, j)
    \/ \E m \in DOMAIN messages : Receive(m)

SkipOwnVoteSpec ==
    /\ Init /\ [][SkipOwnVoteNext]_vars
    /\ \A i, j \in Server : WF_vars(SkipOwnVoteRequestVote(i, j))
    /\ \A i \in Server : WF_vars(BecomeLeader(i))
    /\ \A i \in Server : WF_vars(AdvanceCommitIndex(i))
    /\ \A i, j \in Server : WF_vars(AppendEntries(i, j))
    /\ Delivery
===============================================================================
