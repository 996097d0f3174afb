"""The `winback` command: a thin front over `winback.jobs`."""
