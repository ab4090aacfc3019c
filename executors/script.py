"""Script tasks: an uploaded script or binary, stored once, fetched and run by the worker.

At creation (`prepare`) the decoded content is saved through Django's default storage
under `scripts/<uuid>/<filename>`; the job keeps only `content_path`, `size` and
`sha256`. A run copies it into a private temporary directory (mode 0700), checks the
digest, makes it executable, runs `[path, *args]` like a command and removes the
directory afterwards.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework import serializers

from .accounts import ProcessError, resolve_account
from .base import Outcome, RunContext
from .process import not_started, run_task
from .process_task import (
    MAX_ARGS,
    ProcessExecutor,
    ProcessTaskSerializer,
    StringField,
    check_string,
)

FILENAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
DEFAULT_FILENAME = "script"
# What exec runs: an interpreter line or an ELF binary. Anything else fails every run with
# "exec format error", so it is refused when the job is created.
EXECUTABLE_MAGIC = (b"#!", b"\x7fELF")
STORAGE_PREFIX = "scripts"
CHUNK = 1024 * 1024


def _max_bytes() -> int:
    return settings.SCHED["SCRIPT_MAX_BYTES"]


def decode_content(value: str) -> bytes:
    """Strict base64 (standard alphabet, padded, no line breaks) -> bytes; size checked."""
    limit = _max_bytes()
    if len(value) > 4 * (limit // 3 + 1):  # cannot decode to <= limit bytes
        raise serializers.ValidationError(f"The script is larger than {limit} bytes.")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise serializers.ValidationError(
            "Not valid base64: use the standard alphabet with padding and no line breaks "
            "(e.g. `base64 -w0 FILE`)."
        ) from None
    if not data:
        raise serializers.ValidationError("The script is empty.")
    if len(data) > limit:
        raise serializers.ValidationError(
            f"The script is {len(data)} bytes; the limit is {limit} bytes."
        )
    return data


class ScriptTaskSerializer(ProcessTaskSerializer):
    type = serializers.ChoiceField(choices=["script"])
    content = StringField(
        help_text="The script or binary, base64 (standard alphabet, padded).",
    )
    filename = StringField(
        default=DEFAULT_FILENAME,
        help_text="A base name for the file the worker runs, e.g. backup.sh.",
    )
    args = serializers.ListField(
        child=StringField(allow_blank=True),
        default=list,
        max_length=MAX_ARGS,
        help_text="Arguments passed to the script.",
    )

    def validate_content(self, value: str) -> str:
        if not decode_content(value).startswith(EXECUTABLE_MAGIC):
            raise serializers.ValidationError(
                "Not something the worker can run: a script starts with '#!' and its "
                "interpreter (e.g. #!/bin/sh), a binary is an ELF executable."
            )
        return value

    def validate_filename(self, value: str) -> str:
        if not FILENAME.fullmatch(value) or ".." in value:
            raise serializers.ValidationError(
                "Give a plain file name: 1-100 of letters, digits, '.', '_', '+', '-', "
                "not starting with '.' or '-', no '/' and no '..'."
            )
        return value

    def validate_args(self, value: list[str]) -> list[str]:
        for index, arg in enumerate(value):
            check_string(arg, f"Argument {index}")
        return value


class ScriptExecutor(ProcessExecutor):
    type = "script"
    queue = "script"
    serializer_class = ScriptTaskSerializer

    def prepare(self, task: dict[str, Any]) -> dict[str, Any]:
        """Store the content; the job keeps its path, size and digest instead."""
        if "content" not in task:  # already stored
            return task
        content = task["content"]
        data = content if isinstance(content, bytes) else decode_content(content)
        name = f"{STORAGE_PREFIX}/{uuid.uuid4().hex}/{task.get('filename', DEFAULT_FILENAME)}"
        path = default_storage.save(name, ContentFile(data))
        stored = {key: value for key, value in task.items() if key != "content"}
        return {
            **stored,
            "content_path": path,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    def run(self, context: RunContext) -> Outcome:
        task = context.task
        try:
            account = resolve_account(task.get("run_as"))
        except ProcessError as exc:
            return not_started(str(exc))
        workdir = tempfile.mkdtemp(prefix="sched-script-")  # mode 0700
        try:
            path = os.path.join(workdir, task.get("filename", DEFAULT_FILENAME))
            try:
                self._fetch(task, path)
            except ProcessError as exc:
                return not_started(str(exc))
            if account.switch:
                os.chown(workdir, account.uid, account.gid)
                os.chown(path, account.uid, account.gid)
            return run_task(
                [path, *task.get("args", [])], task, context, account=account, workdir=workdir
            )
        finally:
            _remove_tree(workdir)

    @staticmethod
    def _fetch(task: dict[str, Any], path: str) -> None:
        """Copy the stored script to path (0700), checking its size and digest."""
        digest = hashlib.sha256()
        size = 0
        try:
            source = default_storage.open(task["content_path"], "rb")
        except Exception as exc:  # any storage backend's error
            raise ProcessError(
                f"Cannot fetch the script {task['content_path']!r} from storage: {exc}"
            ) from None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o700)
        with source, os.fdopen(fd, "wb") as target:
            try:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if size > task["size"]:  # not the stored script: stop copying
                        break
                    target.write(chunk)
            except Exception as exc:  # a storage error mid-way
                raise ProcessError(
                    f"Cannot fetch the script {task['content_path']!r} from storage: {exc}"
                ) from None
        os.chmod(path, stat.S_IRWXU)
        if size != task["size"] or digest.hexdigest() != task["sha256"]:
            raise ProcessError(
                f"The stored script {task['content_path']!r} does not match its checksum "
                f"({size} bytes, sha256 {digest.hexdigest()}; expected {task['size']} bytes, "
                f"sha256 {task['sha256']})."
            )


def _remove_tree(path: str) -> None:
    """Remove the run's directory, even parts the script made unwritable."""

    def retry(func, target, _exc):
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
            func(target)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:  # Python 3.11
        shutil.rmtree(path, onerror=retry)
