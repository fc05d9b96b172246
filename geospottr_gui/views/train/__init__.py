"""The Train workspace, as a package: the form (`train_form`), the worker jobs that reach torch (`jobs`),
what shows one run live (`run_panel`: shared with the monitor windows) and the workspace (`train_view`)."""
