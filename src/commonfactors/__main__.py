"""``python -m commonfactors``: the command line (same as the ``commonfactors`` script)."""

from .cli import main

raise SystemExit(main())
