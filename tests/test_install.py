"""The installed wheel works from any folder: migrations, the report's data, the templates, fonts
and translations travel with it (pyproject package-data and data-files), not with the checkout.

The wheel is built from this checkout and installed with `pip --prefix` into a throwaway folder
(its dependencies are this environment's), then run from an empty folder against a fresh
PostgreSQL database, as a container would run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from app.config import PROJECT_ROOT
from tests.conftest import fresh_database, require_backend


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", *args], check=True, capture_output=True, timeout=300
    )


_WHERE = "import app.config as c; print(c.__file__); print(c.SHIPPED)"


def appeals_python(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )


async def test_a_wheel_installed_elsewhere_migrates_imports_and_renders(tmp_path: Path) -> None:
    await require_backend("postgresql")
    _pip("wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(PROJECT_ROOT))
    [wheel] = (tmp_path / "dist").glob("appeals-*.whl")
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip would first uninstall this environment's own
    # (editable) install of the same package, and every later test would lose `app`.
    _pip(
        "install", "--no-deps", "--ignore-installed", "--quiet", "--prefix", str(prefix), str(wheel)
    )
    purelib = sysconfig.get_path("purelib", vars={"base": str(prefix)})
    elsewhere = tmp_path / "empty-folder"
    elsewhere.mkdir()
    async with fresh_database("postgresql", tmp_path) as url:
        env = {
            **os.environ,
            "PYTHONPATH": purelib,
            "APPEALS_DATABASE_URL": url,
            "APPEALS_VAR_DIR": str(elsewhere / "var"),
        }

        def appeals(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "app", *args],
                env=env,
                cwd=elsewhere,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )

        where = appeals_python(env, elsewhere, "-c", _WHERE).stdout.split()
        assert where == [f"{purelib}/app/config.py", str(prefix / "share" / "appeals")]
        upgraded = appeals("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        imported = appeals("import")
        assert imported.returncode == 0, imported.stderr
        assert "recipients: 21 created" in imported.stdout
        assert "cases: 31 created" in imported.stdout
        checked = appeals("templates", "check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "letters rendered from 4 templates" in checked.stdout
