"""Model architectures (by name in `registry`), and the self-describing model bundle (`bundle`)."""
