"""`appeals users create --password-stdin` and `appeals users password`: argon2id hashes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def _appeals(folder: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APPEALS_") or k == "APPEALS_TOKEN_SECRET"
    }
    env["APPEALS_VAR_DIR"] = str(folder / "var")
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=folder,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def _hash(folder: Path, email: str) -> str | None:
    with sqlite3.connect(folder / "var" / "appeals.db") as db:
        row = db.execute(
            "SELECT password_hash FROM staff_users WHERE email = ?", (email,)
        ).fetchone()
    return row[0] if row else None


class TestUsersCommands:
    def test_the_first_admin_gets_a_password_and_can_change_it(self, tmp_path: Path) -> None:
        assert _appeals(tmp_path, "db", "upgrade").returncode == 0
        short = _appeals(
            tmp_path,
            "users",
            "create",
            "a@x.example",
            "--role",
            "admin",
            "--password-stdin",
            stdin="short\n",
        )
        assert short.returncode == 2
        assert "at least 12 characters" in short.stderr
        created = _appeals(
            tmp_path,
            "users",
            "create",
            "a@x.example",
            "--role",
            "admin",
            "--password-stdin",
            stdin="a long enough passphrase\n",
        )
        assert created.returncode == 0, created.stderr
        assert created.stdout.splitlines()[-1].startswith("apl_")  # the token, as before
        first = _hash(tmp_path, "a@x.example")
        assert first is not None and first.startswith("$argon2id$")
        changed = _appeals(
            tmp_path,
            "users",
            "password",
            "a@x.example",
            "--password-stdin",
            stdin="another long passphrase\n",
        )
        assert changed.returncode == 0, changed.stderr
        second = _hash(tmp_path, "a@x.example")
        assert second is not None and second.startswith("$argon2id$") and second != first
