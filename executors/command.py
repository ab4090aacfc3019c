"""Command tasks: run a program on a worker, without a shell unless the task asks for one."""

from __future__ import annotations

import shlex
from typing import Any

from rest_framework import serializers

from jobs.fields import AnyJSONField

from .base import Executor, Outcome, RunContext
from .process import (
    MAX_ARGS,
    ProcessTaskSerializer,
    check_string,
    process_permission_denied,
    run_task,
)

SHELL = "/bin/sh"


class CommandTaskSerializer(ProcessTaskSerializer):
    type = serializers.ChoiceField(choices=["command"])
    command = AnyJSONField(
        help_text='A string split like a shell would ("ls -la /tmp"), or a list of arguments.'
    )
    shell = serializers.BooleanField(
        default=False, help_text="Run the string command with /bin/sh -c."
    )

    def validate_command(self, value: Any) -> str | list[str]:
        if isinstance(value, str):
            check_string(value, "The command")
            if not value.strip():
                raise serializers.ValidationError("The command is empty.")
            return value
        if isinstance(value, list):
            if not value:
                raise serializers.ValidationError("The argument list is empty.")
            if len(value) > MAX_ARGS:
                raise serializers.ValidationError(f"At most {MAX_ARGS} arguments.")
            for index, arg in enumerate(value):
                if not isinstance(arg, str):
                    raise serializers.ValidationError(f"Argument {index} is not a string.")
                check_string(arg, f"Argument {index}")
            if not value[0]:
                raise serializers.ValidationError("The program (argument 0) is empty.")
            return value
        raise serializers.ValidationError("Expected a string or a list of strings.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        command = attrs["command"]
        if attrs.get("shell"):
            if not isinstance(command, str):
                raise serializers.ValidationError(
                    {"shell": ["shell: true takes a string command, not a list."]}
                )
        elif isinstance(command, str):
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                raise serializers.ValidationError(
                    {"command": [f"Cannot split the command: {exc}."]}
                ) from None
            if not argv:
                raise serializers.ValidationError({"command": ["The command is empty."]})
            if len(argv) > MAX_ARGS:
                raise serializers.ValidationError({"command": [f"At most {MAX_ARGS} arguments."]})
        return attrs


def command_argv(task: dict[str, Any]) -> list[str]:
    """The argument vector of a validated command task."""
    command = task["command"]
    if task.get("shell"):
        return [SHELL, "-c", command]
    if isinstance(command, str):
        return shlex.split(command)
    return list(command)


class CommandExecutor(Executor):
    type = "command"
    queue = "command"
    serializer_class = CommandTaskSerializer
    runs_code = True

    def permission_denied(self, task: dict[str, Any], user) -> str | None:
        return super().permission_denied(task, user) or process_permission_denied(task, user)

    def run(self, context: RunContext) -> Outcome:
        return run_task(command_argv(context.task), context.task, context)
