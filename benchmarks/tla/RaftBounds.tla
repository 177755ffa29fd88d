------------------------------ MODULE RaftBounds ------------------------------
\* The bounds that make raft.tla's state space finite, as one state predicate
\* over the variables it limits. The wrappers MCraft and MCraftNoHistory use it
\* as TLC's CONSTRAINT: a successor outside the bounds is generated and
\* checked, but neither stored nor explored. The same bounds as raftmc's
\* --max-term, --max-log, --max-dup and --max-inflight.
EXTENDS Naturals, FiniteSets, Sequences

CONSTANTS MaxTerm,      \* no server's currentTerm above it
          MaxLogLen,    \* no log longer than it
          MaxDup,       \* no message more than this many times in the bag
          MaxInFlight   \* no more than this many different messages in the bag

\* servers: the set of server ids; the other arguments are raft.tla's variables
\* of the same names. Taken as arguments so that this module declares no
\* variable and can be extended beside the spec that does.
WithinBounds(servers, currentTerm, log, messages) ==
    /\ \A i \in servers : currentTerm[i] <= MaxTerm /\ Len(log[i]) <= MaxLogLen
    /\ \A m \in DOMAIN messages : messages[m] <= MaxDup
    /\ Cardinality(DOMAIN messages) <= MaxInFlight
===============================================================================
