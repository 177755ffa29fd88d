"""What ``raftmc bench`` runs: configurations A, B, D, E of the checker (:mod:`.runs`), and TLC
on raft.tla beside them (:mod:`.tlc`), so that every ratio is measured in one invocation."""
