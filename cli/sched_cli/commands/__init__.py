"""The subcommands of `sched`, one module per noun or verb."""
