"""What a process task may hold (command, script; docker reuses the argv and env checks):
its serializer's shared fields, the checks of argv and env, and the executors' base."""

from __future__ import annotations

import re
import shlex
from typing import Any

from rest_framework import serializers

from jobs.fields import CachedFieldsMixin, DurationSecondsField, StrictSerializer

from .base import Executor

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")
MAX_ARG_BYTES = 128 * 1024  # Linux's limit on one argument or environment string
MAX_ARGS = 4096
MAX_ENV = 256


def check_string(value: str, what: str) -> str:
    """A string for exec or a container (an argument, a value): no NUL, at most
    MAX_ARG_BYTES; the errors start with `what`."""
    if "\x00" in value:
        raise serializers.ValidationError(f"{what} may not contain a NUL character.")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_ARG_BYTES:
        raise serializers.ValidationError(f"{what} is longer than {MAX_ARG_BYTES} bytes.")
    return value


def check_env(value: dict[str, str]) -> dict[str, str]:
    """A task's `env` (process or container): at most MAX_ENV variables, valid names,
    values that check_string accepts; the errors are keyed by variable name."""
    if len(value) > MAX_ENV:
        raise serializers.ValidationError(f"At most {MAX_ENV} variables.")
    errors = {}
    for name, text in value.items():
        if not ENV_NAME.fullmatch(name):
            errors[name] = [
                "Not a valid variable name: letters, digits and _, not starting with a digit."
            ]
            continue
        try:
            check_string(text, "A value")
        except serializers.ValidationError as exc:
            errors[name] = exc.detail
    if errors:
        raise serializers.ValidationError(errors)
    return value


def split_command(value: str) -> list[str]:
    """A command string split like a shell would: a non-empty argument list of at most
    MAX_ARGS arguments."""
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise serializers.ValidationError(f"Cannot split the command: {exc}.") from None
    if not argv:
        raise serializers.ValidationError("The command is empty.")
    if len(argv) > MAX_ARGS:
        raise serializers.ValidationError(f"At most {MAX_ARGS} arguments.")
    return argv


def check_argv(value: list[Any], *, program: bool) -> list[str]:
    """A command given as a list: 1 to MAX_ARGS strings that check_string accepts; with
    `program`, argument 0 (the program to run) may not be empty."""
    if not value:
        raise serializers.ValidationError("The argument list is empty.")
    if len(value) > MAX_ARGS:
        raise serializers.ValidationError(f"At most {MAX_ARGS} arguments.")
    for index, arg in enumerate(value):
        if not isinstance(arg, str):
            raise serializers.ValidationError(f"Argument {index} is not a string.")
        check_string(arg, f"Argument {index}")
    if program and not value[0]:
        raise serializers.ValidationError("The program (argument 0) is empty.")
    return value


class StringField(serializers.CharField):
    """A JSON string, as is: no number or boolean turned into one, no trimming."""

    default_error_messages = {"not_a_string": "Expected a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class ProcessTaskSerializer(CachedFieldsMixin, StrictSerializer):
    """The fields every process task has: env, cwd, timeout, run_as."""

    env = serializers.DictField(
        child=StringField(allow_blank=True),
        default=dict,
        help_text="Variables added to the run's minimal environment.",
    )
    cwd = StringField(
        required=False,
        max_length=4096,
        help_text="Absolute working directory on the worker.",
    )
    timeout = DurationSecondsField(required=False)
    run_as = StringField(
        required=False,
        max_length=33,
        help_text="Run as this user of the worker host (superusers only).",
    )

    def validate_env(self, value: dict[str, str]) -> dict[str, str]:
        return check_env(value)

    def validate_cwd(self, value: str) -> str:
        check_string(value, "The directory")
        if not value.startswith("/"):
            raise serializers.ValidationError("Give an absolute path (starting with /).")
        return value

    def validate_run_as(self, value: str) -> str:
        if not USER_NAME.fullmatch(value):
            raise serializers.ValidationError(f"Not a valid user name: {value!r}.")
        return value

    def to_representation(self, instance):
        return instance


class ProcessExecutor(Executor):
    """An executor that runs a process on the worker (command, script): it runs code, and
    run_as switches users on the worker host, so only superusers may ask for it."""

    runs_code = True

    def permission_denied(self, task: dict[str, Any], user) -> str | None:
        reason = super().permission_denied(task, user)
        if reason:
            return reason
        if isinstance(task, dict) and task.get("run_as") and not user.is_superuser:
            return "Only superusers may set run_as."
        return None
