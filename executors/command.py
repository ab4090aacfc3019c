"""Command tasks: run a program on a worker, without a shell unless the task asks for one."""

from __future__ import annotations

import shlex
from typing import Any

from rest_framework import serializers

from jobs.fields import AnyJSONField

from .base import Outcome, RunContext
from .process import run_task
from .process_task import (
    ProcessExecutor,
    ProcessTaskSerializer,
    check_argv,
    check_string,
    split_command,
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
            return check_argv(value, program=True)
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
                split_command(command)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"command": exc.detail}) from None
        return attrs


def command_argv(task: dict[str, Any]) -> list[str]:
    """The argument vector of a validated command task."""
    command = task["command"]
    if task.get("shell"):
        return [SHELL, "-c", command]
    if isinstance(command, str):
        return shlex.split(command)
    return list(command)


class CommandExecutor(ProcessExecutor):
    type = "command"
    queue = "command"
    serializer_class = CommandTaskSerializer

    def run(self, context: RunContext) -> Outcome:
        return run_task(command_argv(context.task), context.task, context)
