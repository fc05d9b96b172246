"""``python -m core`` runs the CLI (same as the ``geospottr`` command; `main` ends the process itself
through `core.cli.main.fast_exit` once a command that imported torch has finished)."""

import sys

from .cli.main import main

sys.exit(main())
