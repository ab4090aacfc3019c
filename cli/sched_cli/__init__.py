"""sched: the command line of the job scheduler, a client of its REST API only."""

__version__ = "0.1.0"
