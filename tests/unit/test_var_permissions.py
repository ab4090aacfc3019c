"""`make run`'s var/ (secret key, SQLite database, stored scripts) is its user's only."""

from __future__ import annotations

import stat

from scripts import run


def test_make_run_makes_var_private_even_when_it_exists(tmp_path, monkeypatch):
    var = tmp_path / "var"
    var.mkdir()
    var.chmod(0o755)
    monkeypatch.setattr(run, "VAR", var)
    run.make_var()
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    key = run.secret_key()
    assert len(key) >= 50
    assert stat.S_IMODE((var / "secret_key").stat().st_mode) == 0o600
