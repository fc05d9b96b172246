"""PyInstaller entry for the ``geospottr`` command-line executable (same as the ``geospottr`` script)."""

import sys

from core.cli.main import main

sys.exit(main())
