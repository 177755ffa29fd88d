"""Test tooling for raftkv, kept out of the production modules (as etcd keeps ``rafttest``).

- ``sim``: the seeded in-process cluster that drives the protocol core through faults;
- ``linearizability``: the checker for key-value histories, and a history recorder;
- ``proc_cluster``: real ``raftkv serve`` processes on 127.0.0.1.
"""
