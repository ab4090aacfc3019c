"""sched crontab import against a live server: shown first, created on --yes, once."""

from __future__ import annotations

import pytest

from jobs.models import Job

from .conftest import write

pytestmark = pytest.mark.django_db(transaction=True)

CRONTAB = """\
# m h dom mon dow command
SHELL=/bin/sh
PATH=/usr/local/bin:/usr/bin:/bin
MAILTO=ops@example.com
CRON_TZ=Europe/Paris
0 3 * * * /usr/local/bin/backup.sh --full > /var/log/backup.log 2>&1
GREETING = "hello world"
@daily echo "$GREETING" # a hash in a command is not a comment
*/10 * * * * date +\\%s
"""


def test_import_shows_the_jobs_and_creates_them_on_yes_only(alice_cli, tmp_path):
    path = write(tmp_path / "root", CRONTAB)
    shown = alice_cli.run("crontab", "import", path)
    assert alice_cli.writes() == []
    assert not Job.objects.exists()
    lines = shown.stdout.splitlines()
    assert lines[0] == "3 command jobs in crontab/root:"
    assert lines[1].split() == ["LINE", "NAME", "SCHEDULE", "TIMEZONE", "COMMAND", "ENV"]
    assert lines[2].split()[:2] == ["6", "backup-sh-full"]
    assert "+ crontab/root/echo-greeting" in shown.stdout
    assert lines[-1] == "Nothing was written: run again with --yes to create them."
    assert "MAILTO is ignored" in shown.stderr

    alice_cli.run("crontab", "import", path, "--yes")
    jobs = {job.name: job for job in Job.objects.all()}
    assert sorted(jobs) == ["backup-sh-full", "date-s", "echo-greeting"]
    backup = jobs["backup-sh-full"]
    assert (backup.product, backup.group, backup.timezone) == ("crontab", "root", "Europe/Paris")
    assert backup.schedule == {"kind": "cron", "cron": "0 3 * * *"}
    assert backup.task["shell"] is True
    assert backup.task["env"] == {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    echo = jobs["echo-greeting"]
    assert echo.task["command"] == 'echo "$GREETING" # a hash in a command is not a comment'
    assert echo.task["env"]["GREETING"] == "hello world"
    assert echo.schedule == {"kind": "cron", "cron": "@daily"}
    assert jobs["date-s"].task["command"] == "date +%s"

    again = alice_cli.run("crontab", "import", path, "--yes")
    assert alice_cli.writes() == []
    assert again.stdout.splitlines()[-1] == "created 0, changed 0, canceled 0; 3 unchanged"


def test_reboot_is_refused_and_nothing_is_created(alice_cli, tmp_path):
    path = write(tmp_path / "tab", "@reboot /usr/bin/start\n0 1 * * * ok\n")
    result = alice_cli.run("crontab", "import", path, "--yes", ok=False)
    assert result.exit_code == 1
    assert "line 1: @reboot runs a command when the machine starts" in result.stderr
    assert alice_cli.requests == []
    assert not Job.objects.exists()


def test_a_job_file_can_be_written_instead_for_apply(alice_cli, tmp_path):
    path = write(tmp_path / "tab", CRONTAB)
    out = tmp_path / "cron.yaml"
    alice_cli.run("crontab", "import", path, "--group", "host1", "-o", str(out))
    assert alice_cli.requests == []
    alice_cli.run("apply", "-f", str(out))
    assert sorted(Job.objects.values_list("group", flat=True)) == ["host1"] * 3


def test_the_server_refusing_a_line_names_the_job_and_field(alice_cli, tmp_path):
    path = write(tmp_path / "tab", "CRON_TZ=Mars/Olympus\n0 1 * * * ok\n")
    result = alice_cli.run("crontab", "import", path, "--yes", ok=False)
    assert "! crontab/tab/ok was not created:" in result.stderr
    assert "timezone:" in result.stderr
