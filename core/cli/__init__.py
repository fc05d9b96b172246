"""The ``geospottr`` command line: argparse subcommands over the same core calls the GUI makes."""
