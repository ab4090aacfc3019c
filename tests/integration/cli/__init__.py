"""The `sched` CLI against a real server: pytest-django's live_server on real PostgreSQL."""
