"""The fast path: the spec compiled down to tables and generated loops for the checker.

``spec/`` is the readable reference; this package runs the *same* actions (its tables are filled
by calling them), with the bounds, keys, symmetry and properties decided by parts and cached.
:mod:`.model` is what the checker sees; :mod:`.tables` the interning and per-core tables;
:mod:`.flat` the flat form without ghost variables (with :mod:`.flat_history`,
:mod:`.flat_transfer`, :mod:`.flat_cache`); :mod:`.codegen`, :mod:`.loop_slow` and
:mod:`.loop_cached` the generated loops; :mod:`.forms` the properties' compiled forms.
``tests/test_compiled_identity.py`` holds the two forms to the same successors, keys and
verdicts from every reachable state.
"""

from .model import FastRaftModel, Uncompiled

__all__ = ["FastRaftModel", "Uncompiled"]
