"""TLA+ files for running TLC beside raftmc (package data of ``raftkit.tla``; see README.md)."""
