"""Who may see and change which channels and rules: jobs/access.py's rules, for these.

- A user sees and changes their own channels and rules.
- Seeing every user's takes `jobs.view_all_jobs` (whoever sees every job sees how each is
  watched); changing, testing or deleting another user's takes `notifications.change_channel`
  (or `notifications.change_rule`) as well.
- `is_staff` alone grants none of this; superusers hold every permission.
"""

from __future__ import annotations

from django.db.models import Model

from jobs.access import sees_all_jobs

__all__ = ["action_denied", "sees_all_jobs"]


def action_denied(user, obj: Model) -> str | None:
    """Why `user` may not change `obj` (a Channel or a Rule), or None."""
    if obj.owner_id == user.id:
        return None
    name = obj._meta.model_name
    permission = f"{obj._meta.app_label}.change_{name}"
    if user.has_perm(permission):
        return None
    return f"Acting on another user's {name} needs the permission '{permission}'."
