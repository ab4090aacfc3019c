"""`python -m sched_cli`: the same as the `sched` command."""

from sched_cli.main import main

main()
