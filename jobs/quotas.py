"""Per-user quotas checked before something is written: active jobs per user (and the
exception the API answers 400 for any quota: notifications/quotas.py raises it too)."""

from __future__ import annotations

from django.conf import settings

from .models import Job, JobStatus

# Jobs that still hold a place: they fire, run or can be resumed.
COUNTED_STATUSES = (JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.PAUSED)


class QuotaExceeded(Exception):
    """The user holds the most of something one user may; the API answers 400
    (jobs/api/errors.py) with the message, which names the setting."""


class TooManyJobs(QuotaExceeded):
    """The user holds MAX_JOBS_PER_USER active jobs."""


def check_active_jobs(owner) -> None:
    """Refuse a new job to a user who already has MAX_JOBS_PER_USER active ones.

    Superusers are exempt; 0 means no limit. A soft limit: creates of one user running at
    the same moment each see the count before the others commit, so the user can pass the
    limit by the number of their concurrent requests (bounded by the web threads and the
    create rate). Counting stops at the limit, so the cost does not grow with the user's
    jobs beyond it.
    """
    limit = settings.MAX_JOBS_PER_USER
    if limit <= 0 or owner.is_superuser:
        return
    active = Job.objects.filter(owner=owner, status__in=COUNTED_STATUSES).order_by()
    if active.values("pk")[:limit].count() >= limit:
        raise TooManyJobs(
            f"You have {limit} active jobs (scheduled, running or paused), the most one "
            f"user may have (MAX_JOBS_PER_USER={limit}): cancel some or let them end first."
        )
