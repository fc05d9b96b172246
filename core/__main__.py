"""``python -m core`` runs the CLI (same as the ``geospottr`` command)."""

import sys

from .cli.main import main

sys.exit(main())
