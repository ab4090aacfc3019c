"""Every task type of a job has its executor, registered under its own type."""

import pytest

from executors.registry import EXECUTORS, get_executor, known_types
from jobs.states import TaskType


def test_every_task_type_has_an_executor_and_nothing_else_does():
    assert set(EXECUTORS) == set(TaskType)
    assert known_types() == sorted(TaskType.values)


@pytest.mark.parametrize("task_type", list(TaskType))
def test_an_executor_is_registered_under_its_own_type(task_type):
    executor = get_executor(task_type)
    assert executor.type == task_type
    assert executor.queue
