"""Docker tasks: run a container image through the Docker Engine API (Docker or Podman).

One run is one container, named `sched-<run id>` and labelled `sched.job` / `sched.run`.
The executor pulls the image by the task's `pull` policy, creates and starts the
container detached, waits for it with the timeout (checking the run's stop event every
WAIT_SLICE seconds), reads the first OUTPUT_LIMIT bytes of its stdout and of its stderr
and always removes it. The engine and its clients: executors/docker_engine.py.
"""

from __future__ import annotations

import logging
import math
import re
import shlex
import threading
import time
from typing import Any

import docker
import requests
from django.conf import settings
from docker.errors import APIError, ImageNotFound, NotFound
from rest_framework import serializers

from jobs.fields import AnyJSONField, CachedFieldsMixin, DurationSecondsField, StrictSerializer
from jobs.states import RunStatus

from .base import Executor, Outcome, RunContext
from .docker_engine import (
    API_TIMEOUT,
    EngineUnreachable,
    engine_client,
    engine_name,
    error_reason,
    forget_client,
    is_read_timeout,
)
from .outcomes import exit_outcome, ms_since
from .process_task import check_argv, check_env, check_string, split_command

log = logging.getLogger(__name__)

# The timeout when neither the task nor the job gives one: a container is batch work.
DEFAULT_TIMEOUT = 3600.0
# How long pulling an image may take (it is not counted in the run's timeout).
PULL_TIMEOUT = 600.0
# Seconds between checks of the run's stop event while the container runs.
WAIT_SLICE = 0.5

PULL_POLICIES = ("never", "missing", "always")
MIN_MEMORY = 6 * 1024 * 1024  # Docker's own minimum
MAX_MEMORY = 1024**4
MAX_CPUS = 1024

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REF = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::[0-9]+)?/)?"  # registry host[:port]/
    rf"{_COMPONENT}(?:/{_COMPONENT})*"  # path, lower case
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # :tag
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"  # @digest
)
NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_memory(value: Any) -> int:
    """Bytes for 268435456, "256m", "1g", "512k", "1.5g", "256MiB"; ValueError if bad."""
    if isinstance(value, bool):
        raise ValueError('Expected a size like "256m", "1g" or a number of bytes.')
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := MEMORY.fullmatch(value)):
        number, unit = match.groups()
        size = math.floor(float(number) * _MEMORY_UNITS[unit.lower()])
    else:
        raise ValueError(
            f'{value!r} is not a size: use "256m", "1g" (k, m, g, t = KiB, MiB, GiB, TiB) '
            "or a number of bytes."
        )
    if size < MIN_MEMORY:
        raise ValueError(f"At least {MIN_MEMORY // 1024**2}m ({MIN_MEMORY} bytes).")
    if size > MAX_MEMORY:
        raise ValueError("At most 1t.")
    return size


class DockerTaskSerializer(CachedFieldsMixin, StrictSerializer):
    type = serializers.ChoiceField(choices=["docker"])
    image = serializers.CharField(
        max_length=512,
        help_text='Image reference: "busybox:1.36", "registry.internal:5000/team/tool@sha256:...".',
    )
    command = AnyJSONField(
        required=False,
        help_text="Replaces the image's CMD: a string split like a shell would, or a list.",
    )
    env = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        default=dict,
        help_text="Environment variables of the container, on top of the image's.",
    )
    pull = serializers.ChoiceField(
        choices=PULL_POLICIES,
        default="missing",
        help_text="never: the image must be on the engine; missing: pull if absent; always.",
    )
    network = serializers.CharField(
        default="none",
        max_length=128,
        help_text='"none" (default, no network), "bridge", "host" or a network\'s name.',
    )
    memory = AnyJSONField(
        required=False, help_text='Memory limit: "256m", "1g" or a number of bytes.'
    )
    cpus = AnyJSONField(required=False, help_text="CPU limit, e.g. 0.5 or 2.")
    timeout = DurationSecondsField(required=False)

    def validate_image(self, value: str) -> str:
        if not IMAGE_REF.fullmatch(value):
            raise serializers.ValidationError(
                f"Not a valid image reference: {value!r}. Use [registry/]name[:tag][@digest] "
                'with a lower-case name, e.g. "busybox:1.36".'
            )
        return value

    def validate_command(self, value: Any) -> str | list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            check_string(value, "The command")
            split_command(value)
            return value
        if isinstance(value, list):
            # The arguments of the image's entrypoint: the first may be empty.
            return check_argv(value, program=False)
        raise serializers.ValidationError("Expected a string or a list of strings.")

    def validate_env(self, value: dict[str, str]) -> dict[str, str]:
        return check_env(value)

    def validate_network(self, value: str) -> str:
        if not NETWORK_NAME.fullmatch(value):
            raise serializers.ValidationError(
                f"Not a network: {value!r}. Use none, bridge, host or a network's name."
            )
        return value

    def validate_memory(self, value: Any) -> int:
        try:
            return parse_memory(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_cpus(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise serializers.ValidationError("Expected a positive number of CPUs, e.g. 0.5.")
        try:
            cpus = float(value)
        except ValueError:
            raise serializers.ValidationError(
                f"{value!r} is not a number of CPUs: use e.g. 0.5 or 2."
            ) from None
        if not math.isfinite(cpus) or cpus < 0.01 or cpus > MAX_CPUS:
            raise serializers.ValidationError(f"Give a number of CPUs from 0.01 to {MAX_CPUS}.")
        return cpus

    def to_representation(self, instance):
        return instance


# -------------------------------------------------------------------- the executor


class _Stopped(Exception):
    """The run's stop event was set before the container started (e.g. while pulling)."""


class DockerExecutor(Executor):
    type = "docker"
    queue = "docker"
    serializer_class = DockerTaskSerializer
    runs_code = True

    def run(self, context: RunContext) -> Outcome:
        task = context.task
        image = task["image"]
        try:
            client = engine_client()
            self._ensure_image(client, image, task.get("pull", "missing"), context.stop)
            return self._run_container(client, context)
        except EngineUnreachable as exc:
            return Outcome(RunStatus.FAILED, {"image": image}, str(exc))
        except _ImageError as exc:
            return Outcome(RunStatus.FAILED, {"image": image}, str(exc))
        except _Stopped:
            return Outcome(
                RunStatus.CANCELED, {"image": image}, "Stopped before the container started."
            )
        except requests.exceptions.ConnectionError as exc:
            forget_client()
            return Outcome(
                RunStatus.FAILED,
                {"image": image},
                f"Lost the container engine at {engine_name()}: {error_reason(exc)}",
            )

    # -- image

    def _ensure_image(
        self, client: docker.DockerClient, image: str, pull: str, stop: threading.Event
    ) -> None:
        if pull != "always":
            try:
                client.images.get(image)
                return
            except ImageNotFound:
                if pull == "never":
                    raise _ImageError(
                        f"Image {image!r} is not on the container engine ({engine_name()}) "
                        "and the task's pull policy is 'never'."
                    ) from None
            except APIError as exc:
                raise _ImageError(f"Cannot look up image {image!r}: {error_reason(exc)}") from None
        error = self._pull(client, image, stop)
        if error:
            if pull == "always":
                raise _ImageError(f"Pulling image {image!r} failed: {error}")
            raise _ImageError(
                f"Image {image!r} is not on the container engine ({engine_name()}) "
                f"and pulling it failed: {error}"
            )

    @staticmethod
    def _pull(client: docker.DockerClient, image: str, stop: threading.Event) -> str | None:
        """Pull the image; return why it failed, or None."""
        deadline = time.monotonic() + PULL_TIMEOUT
        try:
            for message in client.api.pull(image, stream=True, decode=True):
                if isinstance(message, dict) and message.get("error"):
                    return str(message["error"])
                if stop.is_set():
                    raise _Stopped
                if time.monotonic() > deadline:
                    return f"not done within {PULL_TIMEOUT:g}s"
        except APIError as exc:
            return error_reason(exc)
        except requests.exceptions.ConnectionError as exc:
            if is_read_timeout(exc):
                return f"no progress from the engine for {API_TIMEOUT}s"
            raise
        return None

    # -- container

    def _run_container(self, client: docker.DockerClient, context: RunContext) -> Outcome:
        task = context.task
        image = task["image"]
        timeout = task.get("timeout") or context.timeout or DEFAULT_TIMEOUT
        if context.stop.is_set():
            raise _Stopped
        result: dict[str, Any] = {"image": image, "exit_code": None}
        started = time.monotonic()
        container = None
        try:
            try:
                container = self._create(client, context)
            except ImageNotFound as exc:
                raise _ImageError(f"Image {image!r} not found: {error_reason(exc)}") from None
            except APIError as exc:
                result["elapsed_ms"] = ms_since(started)
                return Outcome(
                    RunStatus.FAILED, result, f"Could not create the container: {error_reason(exc)}"
                )
            result["container_id"] = container.id[:12]
            result["image_id"] = container.attrs.get("Image", "")
            started = time.monotonic()
            try:
                container.start()
            except APIError as exc:
                result["elapsed_ms"] = ms_since(started)
                return Outcome(
                    RunStatus.FAILED, result, f"Could not start the container: {error_reason(exc)}"
                )
            ended_by, code = self._wait(container, timeout, context.stop)
            result["elapsed_ms"] = ms_since(started)
            result["exit_code"] = code
            result.update(self._output(container))
        finally:
            if container is not None:
                self._remove(container)
        return exit_outcome(
            result,
            ended_by=ended_by,
            timeout=timeout,
            killed="the container was killed",
            stopped="the container was killed",
            failure=f"The container exited with code {code}",
        )

    @staticmethod
    def _create(client: docker.DockerClient, context: RunContext):
        task = context.task
        command = task.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        env = {
            "SCHED_JOB_ID": context.job_id,
            "SCHED_RUN_ID": context.run_id,
            "SCHED_ATTEMPT": str(context.attempt),
            "SCHED_IDEMPOTENCY_KEY": context.idempotency_key,
            **(task.get("env") or {}),
        }
        kwargs: dict[str, Any] = {
            "command": command or None,
            "name": f"sched-{context.run_id}",
            "labels": {"sched.job": context.job_id, "sched.run": context.run_id},
            "environment": env,
            "network_mode": task.get("network") or "none",
            "detach": True,
        }
        if task.get("memory"):
            kwargs["mem_limit"] = task["memory"]
        if task.get("cpus"):
            kwargs["nano_cpus"] = round(task["cpus"] * 1e9)
        try:
            return client.containers.create(task["image"], **kwargs)
        except APIError as exc:
            if exc.status_code != 409:
                raise
        # A container of this run is left over (its worker died): replace it.
        log.warning("removing a leftover container sched-%s", context.run_id)
        try:
            client.containers.get(kwargs["name"]).remove(force=True)
        except NotFound:
            pass
        return client.containers.create(task["image"], **kwargs)

    @staticmethod
    def _wait(container, timeout: float, stop: threading.Event) -> tuple[str | None, int | None]:
        """Wait for the container's exit: (None, exit code), or how it was ended early."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                ended_by = RunStatus.TIMED_OUT
                break
            if stop.is_set():
                ended_by = RunStatus.CANCELED
                break
            try:
                status = container.wait(timeout=min(WAIT_SLICE, left) + 0.05)
                return None, status.get("StatusCode")
            except requests.exceptions.ConnectionError as exc:
                if not is_read_timeout(exc):
                    raise
        try:
            container.kill()
        except APIError as exc:  # it exited meanwhile
            log.info("kill %s: %s", container.id[:12], error_reason(exc))
        try:
            code = container.wait(timeout=10).get("StatusCode")
        except (requests.exceptions.ConnectionError, APIError):
            code = None
        return ended_by, code

    @staticmethod
    def _output(container) -> dict[str, Any]:
        """The first OUTPUT_LIMIT bytes of stdout and of stderr, each with a truncated flag."""
        limit = settings.SCHED["OUTPUT_LIMIT"]
        result: dict[str, Any] = {}
        for name in ("stdout", "stderr"):
            data = bytearray()
            truncated = False
            try:
                stream = container.logs(
                    stdout=name == "stdout", stderr=name == "stderr", stream=True, follow=False
                )
                try:
                    for chunk in stream:
                        room = limit - len(data)
                        if len(chunk) > room:
                            data += chunk[:room]
                            truncated = True
                            break
                        data += chunk
                finally:
                    _close_stream(stream)
            except (APIError, requests.exceptions.ConnectionError) as exc:
                log.warning("cannot read the %s of %s: %s", name, container.id[:12], exc)
            # A NUL is made U+FFFD when the outcome is recorded (jobs.runner.storable).
            result[name] = data.decode("utf-8", errors="replace")
            result[f"{name}_truncated"] = truncated
        return result

    @staticmethod
    def _remove(container) -> None:
        try:
            container.remove(force=True)
        except NotFound:
            pass
        except (APIError, requests.exceptions.ConnectionError) as exc:
            log.warning("cannot remove container %s: %s", container.id[:12], error_reason(exc))


class _ImageError(Exception):
    """The image is missing or cannot be pulled: the message says which and why."""


def _close_stream(stream) -> None:
    """End a log stream read only in part, releasing its connection cleanly."""
    generator = getattr(stream, "_stream", None)
    if generator is not None:
        generator.close()
    response = getattr(stream, "_response", None)
    if response is not None:
        response.close()
