"""Who may see and act on which jobs: the one home of those rules (API and admin).

- A user sees and acts on their own jobs.
- Seeing every user's jobs and runs takes `jobs.view_all_jobs`; acting on another user's
  job (change, cancel, pause, resume, run now) takes `jobs.change_job` as well.
- Changing, resuming or running a job that runs code (command, script, docker) takes
  `jobs.run_code`, whoever owns it: those start code on the workers. Canceling and pausing
  stop code, and take nothing more.
- `is_staff` alone grants none of this (it opens the admin, which applies these rules);
  superusers hold every permission.
"""

from __future__ import annotations

from executors.registry import get_executor

from .models import Job

VIEW_ALL = "jobs.view_all_jobs"
CHANGE_OTHERS = "jobs.change_job"
RUN_CODE = "jobs.run_code"
# Actions that start the job's code, or change what it will run.
CODE_ACTIONS = frozenset(("update", "resume", "run"))


def sees_all_jobs(user) -> bool:
    return user.is_active and user.has_perm(VIEW_ALL)


def action_denied(user, job: Job, action: str) -> str | None:
    """Why `user` may not do `action` (update, cancel, pause, resume, run) to `job`."""
    if job.owner_id != user.id and not user.has_perm(CHANGE_OTHERS):
        return f"Acting on another user's job needs the permission '{CHANGE_OTHERS}'."
    if action in CODE_ACTIONS and _runs_code(job) and not user.has_perm(RUN_CODE):
        return (
            f"This {job.type} job runs code: to {action} it you need the permission "
            f"'{RUN_CODE}' (Can create jobs that run code)."
        )
    return None


def _runs_code(job: Job) -> bool:
    try:
        return get_executor(job.type).runs_code
    except KeyError:  # a type this version does not know: treat it as code
        return True
