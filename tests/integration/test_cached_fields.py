"""Serializers built once per class and thread (jobs.fields.CachedFieldsMixin) answer as
those built anew: with the context of their own request, under threads at once, nested
ones with their parent's context, and a validation's errors never kept for the next."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import RequestFactory

from jobs.api.serializers import JobInputSerializer, JobSerializer
from jobs.models import Job

from .helpers import http_job

pytestmark = pytest.mark.django_db(transaction=True)


def request_to(host: str):
    return RequestFactory().get("/api/v1/jobs", HTTP_HOST=host)


def test_two_threads_answer_each_their_own_job_with_their_own_request(api):
    ids = [
        api.post("/api/v1/jobs", http_job(name=f"j{i}"), format="json").json()["id"]
        for i in range(2)
    ]
    jobs = {job.name: job for job in Job.objects.select_related("owner")}
    for job in jobs.values():
        job.run_counts = {}
    wrong: list = []

    def serialize(name: str, host: str) -> None:
        context = {"request": request_to(host)}
        try:
            for _ in range(300):
                data = JobSerializer(jobs[name], context=context).data
                if data["name"] != name or not data["link"].startswith(f"http://{host}/"):
                    wrong.append((name, host, data["name"], data["link"]))
        finally:
            connection.close()  # the thread's own (the job's notify rules are read)

    threads = [
        threading.Thread(target=serialize, args=("j0", "127.0.0.1")),
        threading.Thread(target=serialize, args=("j1", "localhost")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [] and len(ids) == 2


def test_one_thread_answers_in_turn_with_each_serializers_own_context(api):
    api.post("/api/v1/jobs", http_job(name="j"), format="json")
    job = Job.objects.get()
    job.run_counts = {}
    first = JobSerializer(job, context={"request": request_to("127.0.0.1")})
    second = JobSerializer(job, context={"request": request_to("localhost")})
    assert second.data["link"].startswith("http://localhost/")
    assert first.data["link"].startswith("http://127.0.0.1/")


def test_a_failed_validation_leaves_nothing_for_the_next(api, alice):
    context = {"request": request_to("127.0.0.1")}
    context["request"].user = alice
    bad = JobInputSerializer(data={"task": {"url": "x"}, "schedule": "now"}, context=context)
    assert not bad.is_valid() and "task" in bad.errors
    good = JobInputSerializer(data=http_job(), context=context)
    assert good.is_valid(), good.errors
