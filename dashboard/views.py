"""Thin views: who may look (a session, jobs.access's rules), the page's data, a template."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from jobs import access, services

from . import pages, selectors

# The pages load nothing but their own stylesheet: no script at all, no other origin.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

ACTIONS = {
    "run": (services.job_run_now, "A run of {job} starts now."),
    "pause": (services.job_pause, "{job} is paused."),
    "resume": (services.job_resume, "{job} is resumed."),
}


def strict_csp(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CSP
        return response

    return wrapped


@require_GET
@strict_csp
@login_required
def overview(request):
    span = request.GET.get("span", "hour")
    if span not in selectors.SPANS:
        message = f"must be one of {', '.join(selectors.SPANS)}"
        return render(
            request,
            "dashboard/bad_request.html",
            {"field": "span", "message": message},
            status=400,
        )
    return render(request, "dashboard/overview.html", pages.overview(request.user, span))


@require_GET
@strict_csp
@login_required
def job(request, job_id):
    found = selectors.visible_job(request.user, job_id)
    if found is None:
        raise Http404("No such job.")
    return render(request, "dashboard/job.html", pages.job_page(request.user, found))


@require_POST
@strict_csp
@login_required
def job_action(request, job_id, action):
    """Run now, pause or resume a job, as POST /api/v1/jobs/{id}/run|pause|resume would:
    a job the user does not see is a 404, an action jobs.access refuses a 403."""
    found = selectors.visible_job(request.user, job_id)
    if found is None or action not in ACTIONS:
        raise Http404("No such job.")
    reason = access.action_denied(request.user, found, action)
    if reason:
        return HttpResponseForbidden(reason)
    service, done = ACTIONS[action]
    try:
        service(job=found)
    except services.JobConflict as exc:
        messages.error(request, f"{found}: {exc}")
    else:
        messages.success(request, done.format(job=found))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = pages.job_link(found)
    return redirect(back)


login = strict_csp(
    auth_views.LoginView.as_view(
        template_name="dashboard/login.html", redirect_authenticated_user=True
    )
)
logout = strict_csp(auth_views.LogoutView.as_view(next_page="dashboard:login"))
