"""Statements of notifications sent on PostgreSQL as jobs/runner_sql.py sends its own:
prepared once per connection, past the ORM's compiler (jobs/pg.py). For the statements
paid once per fire or per notification (notifications/outbox.py,
notifications/delivery_sql.py)."""

from __future__ import annotations

from jobs.pg import cursor, enabled, execute

__all__ = ["cursor", "enabled", "execute"]
