"""Reading a crontab as cron does, and the command jobs it becomes."""

from __future__ import annotations

from sched_cli import crontab


def jobs_of(text: str, **options):
    parsed = crontab.parse(text, **options)
    assert parsed.errors == []
    return crontab.jobs(parsed.entries)


def test_it_turns_a_line_into_a_shell_command_job_named_after_its_command():
    (job,) = jobs_of("0 3 * * * /usr/local/bin/backup.sh --full > /var/log/b.log 2>&1\n")
    assert job == {
        "name": "backup-sh-full",
        "task": {
            "type": "command",
            "command": "/usr/local/bin/backup.sh --full > /var/log/b.log 2>&1",
            "shell": True,
        },
        "schedule": {"cron": "0 3 * * *"},
    }


def test_it_skips_comments_and_blank_lines_but_keeps_a_hash_inside_a_command():
    text = "# m h dom mon dow command\n\n   # indented comment\n*/5 * * * * echo a # b\n"
    (job,) = jobs_of(text)
    assert job["task"]["command"] == "echo a # b"  # cron hands the rest of the line to sh
    assert job["name"] == "echo-a"


def test_env_lines_go_into_the_env_of_the_lines_after_them_only():
    text = "0 1 * * * first\nA=1\nB = 'two words '\n0 2 * * * second\nA=3\n0 3 * * * third\n"
    first, second, third = jobs_of(text)
    assert "env" not in first["task"]
    assert second["task"]["env"] == {"A": "1", "B": "two words "}
    assert third["task"]["env"] == {"A": "3", "B": "two words "}


def test_cron_tz_sets_the_time_zone_of_the_lines_after_it():
    first, second = jobs_of("0 1 * * * a\nCRON_TZ=Europe/Paris\n0 2 * * * b\n")
    assert "timezone" not in first
    assert second["timezone"] == "Europe/Paris"
    assert "env" not in second["task"]  # CRON_TZ is cron's, not the command's


def test_tz_sets_the_time_zone_and_the_commands_tz_unless_cron_tz_is_set():
    (job,) = jobs_of("TZ=America/New_York\n0 2 * * * b\n")
    assert job["timezone"] == "America/New_York"
    assert job["task"]["env"] == {"TZ": "America/New_York"}
    (job,) = jobs_of("TZ=America/New_York\nCRON_TZ=Asia/Tokyo\n0 2 * * * b\n")
    assert job["timezone"] == "Asia/Tokyo"


def test_macros_become_cron_macros_in_lower_case():
    jobs = jobs_of("@daily a\n@HOURLY b\n@weekly c\n@monthly d\n@yearly e\n@annually f\n")
    assert [job["schedule"] for job in jobs] == [
        {"cron": "@daily"},
        {"cron": "@hourly"},
        {"cron": "@weekly"},
        {"cron": "@monthly"},
        {"cron": "@yearly"},
        {"cron": "@annually"},
    ]


def test_it_refuses_reboot_with_a_message_saying_what_to_do_instead():
    parsed = crontab.parse("@reboot /usr/bin/start-thing\n0 1 * * * ok\n")
    assert len(parsed.entries) == 1
    (error,) = parsed.errors
    assert error.startswith("line 1: @reboot runs a command when the machine starts")
    assert "init system" in error


def test_it_refuses_an_unknown_macro_and_a_line_that_is_not_a_job():
    parsed = crontab.parse("@often x\n* * * x\n")
    assert parsed.errors[0].startswith("line 1: unknown @often")
    assert parsed.errors[1].startswith("line 2: not a job line")


def test_an_unescaped_percent_is_refused_and_an_escaped_one_is_a_percent():
    parsed = crontab.parse("0 1 * * * date +%s\n0 2 * * * date +\\%s\n")
    assert parsed.errors[0].startswith("line 1: '%' in a cron command starts its standard input")
    assert [entry.command for entry in parsed.entries] == ["date +%s"]


def test_another_shell_runs_the_command_as_its_argument():
    (job,) = jobs_of("SHELL=/bin/bash\n0 1 * * * echo {a,b}\n")
    assert job["task"] == {"type": "command", "command": ["/bin/bash", "-c", "echo {a,b}"]}


def test_mailto_is_ignored_with_a_note():
    parsed = crontab.parse("MAILTO=ops@example.com\n0 1 * * * x\n")
    assert parsed.errors == []
    assert "MAILTO is ignored" in parsed.notes[0]
    assert "env" not in crontab.jobs(parsed.entries)[0]["task"]


def test_a_system_crontab_names_the_user_who_runs_the_command():
    (job,) = jobs_of("17 * * * * root cd / && run-parts /etc/cron.hourly\n", system=True)
    assert job["task"]["run_as"] == "root"
    assert job["task"]["command"] == "cd / && run-parts /etc/cron.hourly"
    assert job["name"] == "cd"


def test_alike_commands_get_numbered_names():
    jobs = jobs_of("0 1 * * * sync\n0 2 * * * sync\n0 3 * * * sync\n")
    assert [job["name"] for job in jobs] == ["sync", "sync-2", "sync-3"]


def test_a_name_is_at_most_forty_characters():
    (job,) = jobs_of("0 1 * * * " + "word " * 30 + "\n")
    assert len(job["name"]) <= 40
    assert not job["name"].endswith("-")
