"""``python -m raftkit.modelcheck.cli``: the same as the ``raftmc`` command."""

import sys

from .app import main

sys.exit(main())
