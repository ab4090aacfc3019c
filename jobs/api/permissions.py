"""DRF's side of jobs.access: an action on a job the user may not take is a 403."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from jobs import access

# The view's action -> the action of jobs.access.
ACTIONS = {
    "partial_update": "update",
    "destroy": "cancel",
    "pause": "pause",
    "resume": "resume",
    "run": "run",
}


class JobAccess(BasePermission):
    """Reads are filtered by the queryset; each change is checked against jobs.access."""

    message = "You may not do this to this job."

    def has_object_permission(self, request, view, obj) -> bool:
        action = ACTIONS.get(getattr(view, "action", None))
        if action is None:
            return True
        reason = access.action_denied(request.user, obj, action)
        if reason:
            self.message = reason  # DRF instantiates permissions per request
            return False
        return True
