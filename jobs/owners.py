"""What a job's owner may do at run time, asked once in a while per worker process."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import get_user_model

# owner id -> (monotonic time the answer expires, may reach any address)
_unrestricted: dict[int, tuple[float, bool]] = {}
_MAX_OWNERS = 10_000  # answers kept; past it the cache starts again


def egress_unrestricted(owner_id: int | None) -> bool:
    """The owner may connect anywhere: a superuser, or holds `jobs.unrestricted_egress`.

    The answer is kept for EGRESS_PERMISSION_CACHE seconds, so a worker running hundreds
    of runs a second asks the database once per owner in that time; a permission granted
    or withdrawn takes effect within it.
    """
    if owner_id is None:
        return False
    now = time.monotonic()
    known = _unrestricted.get(owner_id)
    if known is not None and known[0] > now:
        return known[1]
    owner = get_user_model().objects.filter(id=owner_id).first()
    answer = owner is not None and owner.has_perm("jobs.unrestricted_egress")
    if len(_unrestricted) >= _MAX_OWNERS:
        _unrestricted.clear()
    _unrestricted[owner_id] = (now + settings.SCHED["EGRESS_PERMISSION_CACHE"], answer)
    return answer


def forget() -> None:
    """Drop every kept answer (tests; a worker forgets them after the cache time)."""
    _unrestricted.clear()
