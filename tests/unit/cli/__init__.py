"""Unit tests of the `sched` CLI (cli/sched_cli): pure parts, no server."""
