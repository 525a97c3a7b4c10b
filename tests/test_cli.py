"""The `appeals` command, run as a real subprocess against a throwaway database."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import Settings
from tests.conftest import (
    BACKENDS,
    CASES_DIR,
    RECIPIENTS_DIR,
    fresh_database,
    require_backend,
)

Appeals = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(params=BACKENDS)
async def cli_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    await require_backend(request.param)
    async with fresh_database(request.param, tmp_path) as url:
        yield {**os.environ, "APPEALS_DATABASE_URL": url, "APPEALS_VAR_DIR": str(tmp_path / "var")}


@pytest.fixture
def appeals(cli_env: dict[str, str], tmp_path: Path) -> Appeals:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            env=cli_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


class TestImportCommand:
    def test_import_is_idempotent_and_prints_a_summary(self, appeals: Appeals) -> None:
        assert appeals("db", "upgrade").returncode == 0
        first = appeals("import")
        assert first.returncode == 0, first.stderr
        assert "recipients: 21 created, 0 updated, 0 unchanged; 0 problems" in first.stdout
        assert "cases: 31 created, 0 updated, 0 unchanged; 0 problems" in first.stdout
        assert "Маkhambet Abzhan" in first.stdout  # the homoglyph notice
        second = appeals("import")
        assert (
            "recipients: 0 created, 0 updated, 21 unchanged; 0 problems, 0 notices" in second.stdout
        )
        assert "cases: 0 created, 0 updated, 31 unchanged; 0 problems, 0 notices" in second.stdout

    def test_a_broken_file_exits_1_and_names_it(self, appeals: Appeals, tmp_path: Path) -> None:
        cases = tmp_path / "cases"
        shutil.copytree(CASES_DIR, cases)
        (cases / "sychev.yaml").write_text(
            (cases / "sychev.yaml")
            .read_text(encoding="utf-8")
            .replace("category: social_media_users", "category: bloggers"),
            encoding="utf-8",
        )
        appeals("db", "upgrade")
        result = appeals(
            "import", "--cases", str(cases), "--recipients", str(RECIPIENTS_DIR), "--json"
        )
        assert result.returncode == 1
        [recipients, case_report] = json.loads(result.stdout)
        assert len(recipients["created"]) == 21
        assert len(case_report["created"]) == 30
        [error] = [p for p in case_report["problems"] if p["severity"] == "error"]
        assert error["file"].endswith("sychev.yaml")
        assert error["field"] == "category"


class TestDirectoryCheck:
    def test_exits_1_while_an_office_has_no_usable_channel(self, appeals: Appeals) -> None:
        appeals("db", "upgrade")
        appeals("import")
        human = appeals("directory", "check")
        assert human.returncode == 1
        assert "FAIL pace-president" in human.stdout
        assert "21 offices: 0 ok, 16 with warnings, 5 unreachable" in human.stdout
        machine = appeals("directory", "check", "--json", "--max-age-days", "36500")
        assert machine.returncode == 1
        body = json.loads(machine.stdout)
        assert body["counts"]["unreachable"] == 5
        assert body["counts"]["ok"] > 0  # with no age limit some offices have nothing to fix
        assert not any(o["holder_stale"] for o in body["offices"] if o["holder"])


class TestWorkerMetrics:
    def test_a_running_worker_serves_its_metrics_on_loopback(
        self, appeals: Appeals, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        appeals("db", "upgrade")
        port = _free_port()
        env = {**cli_env, "APPEALS_WORKER_METRICS_PORT": str(port)}
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/metrics", process)
            body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        finally:
            process.terminate()
            _, log = process.communicate(timeout=30)
        assert "appeals_worker_claim_seconds" in body
        assert f"metrics on http://127.0.0.1:{port}/metrics" in log


class TestTemplatesCheck:
    """A check that rendered no letter proves nothing: it fails and says what to fix."""

    def test_fails_before_anything_is_imported(self, appeals: Appeals) -> None:
        appeals("db", "upgrade")
        result = appeals("templates", "check")
        assert result.returncode == 1
        assert "0 letters rendered" in result.stdout
        assert "no offices in the database: run `appeals import` first" in result.stdout

    def test_fails_when_the_templates_folder_is_empty(
        self, appeals: Appeals, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        appeals("db", "upgrade")
        appeals("import")
        (tmp_path / "no-templates").mkdir()
        cli_env["APPEALS_TEMPLATES_DIR"] = str(tmp_path / "no-templates")
        result = appeals("templates", "check")
        assert result.returncode == 1
        assert "0 letters rendered from 0 templates" in result.stdout
        assert "no letter templates found in" in result.stdout
        assert "APPEALS_TEMPLATES_DIR" in result.stdout


class TestWorkerCommand:
    def test_one_round_on_an_empty_queue(self, appeals: Appeals) -> None:
        appeals("db", "upgrade")
        result = appeals("worker", "--once")
        assert result.returncode == 0, result.stderr
        assert "0 deliveries tried" in result.stdout

    def test_logs_its_start_with_time_and_level_and_no_secret(
        self, appeals: Appeals, cli_env: dict[str, str]
    ) -> None:
        appeals("db", "upgrade")
        result = appeals("worker", "--once")
        start, stop = result.stderr.strip().splitlines()
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO ", start), start
        assert "starting: database " in start and "mail by outbox folder" in start
        assert stop.endswith("stopped")
        secret = cli_env.get("APPEALS_TOKEN_SECRET", "")
        assert not secret or secret not in result.stderr
        cli_env["APPEALS_LOG_FORMAT"] = "json"
        lines = appeals("worker", "--once").stderr.strip().splitlines()
        entries = [json.loads(line) for line in lines]
        assert [e["level"] for e in entries] == ["INFO", "INFO"]
        assert "starting" in entries[0]["message"] and entries[0]["logger"] == "app.working"


class TestUsersAndBrowsing:
    def test_a_created_token_works_against_the_server(self, appeals: Appeals) -> None:
        appeals("db", "upgrade")
        created = appeals("users", "create", "ada@staff.example", "--role", "campaigner")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert token.startswith("apl_")
        duplicate = appeals("users", "create", "ada@staff.example", "--role", "admin")
        assert duplicate.returncode == 2
        assert "already exists" in duplicate.stderr
        listing = appeals("users", "list")
        assert "ada@staff.example" in listing.stdout and "1 live token\n" in listing.stdout
        assert token not in listing.stdout

    def test_cases_and_recipients_from_the_command_line(self, appeals: Appeals) -> None:
        appeals("db", "upgrade")
        appeals("import")
        found = appeals("cases", "list", "--q", "Sichev", "--json")
        assert [c["id"] for c in json.loads(found.stdout)] == ["sychev"]
        shown = appeals("recipients", "show", "france-prime-minister")
        assert json.loads(shown.stdout)["language"] == "fr"
        missing = appeals("cases", "show", "nobody")
        assert missing.returncode == 2 and "no case" in missing.stderr
        assert "Traceback" not in missing.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(url: str, process: subprocess.Popen[str], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited early: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout}s")


@contextmanager
def demo(folder: Path) -> Iterator[tuple[str, str, list[str]]]:
    """`appeals demo` in `folder` on a free port: yields its URL, its token and its output."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPEALS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "demo", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the token is printed before the server starts
            output.append(line)
            if "campaigner token" in line:
                break
        token = output[-1].split(": ")[1].strip()
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/api/v1/health", process)
        yield base, token, output
    finally:
        process.terminate()
        process.communicate(timeout=30)


class TestUsersCreate:
    def test_refuses_what_is_not_an_e_mail_address(self, appeals: Appeals) -> None:
        appeals("db", "upgrade")
        result = appeals("users", "create", "not-an-email", "--role", "campaigner")
        assert result.returncode == 2
        assert "error: not an e-mail address" in result.stderr
        assert "Traceback" not in result.stderr
        listed = appeals("users", "list")
        assert "not-an-email" not in listed.stdout

    def test_counts_tokens_in_english(self, appeals: Appeals) -> None:
        appeals("db", "upgrade")
        appeals("users", "create", "ada@staff.example", "--role", "campaigner")
        assert "1 live token\n" in appeals("users", "list").stdout
        appeals("users", "token", "ada@staff.example")
        assert "2 live tokens" in appeals("users", "list").stdout
        assert "revoked 2 tokens of" in appeals("users", "revoke", "ada@staff.example").stdout


class TestDemo:
    def test_demo_serves_the_reports_cases_and_offices(self, tmp_path: Path) -> None:
        with demo(tmp_path) as (base, token, _):
            assert httpx.get(f"{base}/api/v1/cases").json()["total"] == 31
            assert httpx.get(f"{base}/api/v1/recipients").json()["total"] == 21
            assert httpx.get(f"{base}/docs").status_code == 200
            assert httpx.get(f"{base}/staff/login").status_code == 200
            assert (tmp_path / "var" / "appeals.db").exists()
            auth = {"Authorization": f"Bearer {token}"}
            [campaign] = httpx.get(f"{base}/api/v1/campaigns", headers=auth).json()
            preview = httpx.get(
                f"{base}/api/v1/campaigns/{campaign['slug']}/preview",
                params={"recipient": "uk-prime-minister", "supporter_name": "Ada Lovelace"},
                headers=auth,
            )
            assert "Bokayev" in preview.json()["body"]

    def test_a_restarted_demo_keeps_its_data_and_issues_a_new_token(self, tmp_path: Path) -> None:
        with demo(tmp_path) as (_, first, _):
            pass
        with demo(tmp_path) as (base, second, output):
            assert (
                httpx.get(
                    f"{base}/api/v1/me", headers={"Authorization": f"Bearer {first}"}
                ).status_code
                == 401
            )
            me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {second}"})
            assert me.status_code == 200
            assert (
                len(
                    httpx.get(
                        f"{base}/api/v1/campaigns", headers={"Authorization": f"Bearer {second}"}
                    ).json()
                )
                == 1
            )
        assert any("31 unchanged" in line for line in output)


class TestTokenSecret:
    @pytest.mark.parametrize(
        "command",
        [("serve",), ("worker", "--once"), ("inbound", "eml", "-"), ("inbound", "imap", "--once")],
    )
    @pytest.mark.parametrize(
        ("secret", "problem"),
        [(None, "is not set"), ("change-me-in-production", "published default")],
    )
    def test_commands_that_sign_refuse_a_missing_or_published_secret(
        self, tmp_path: Path, command: tuple[str, ...], secret: str | None, problem: str
    ) -> None:
        env = {k: v for k, v in os.environ.items() if k != "APPEALS_TOKEN_SECRET"}
        env["APPEALS_VAR_DIR"] = str(tmp_path / "var")
        if secret is not None:
            env["APPEALS_TOKEN_SECRET"] = secret
        result = subprocess.run(
            [sys.executable, "-m", "app", *command],
            env=env,
            cwd=tmp_path,
            input="",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert problem in line
        assert "APPEALS_TOKEN_SECRET=" in line  # names the setting and how to make one
        assert "Traceback" not in result.stderr + result.stdout

    def test_the_demo_makes_its_own_secret_once_and_keeps_it_private(self, tmp_path: Path) -> None:
        with demo(tmp_path):
            pass
        path = tmp_path / "var" / "token_secret"
        first = path.read_text()
        assert len(first) >= 32
        assert path.stat().st_mode & 0o777 == 0o600
        with demo(tmp_path):
            pass
        assert path.read_text() == first


class TestABadSetting:
    @pytest.mark.parametrize(
        ("name", "value", "problem"),
        [
            ("APPEALS_ORGANISATION_NAME", "Us\r\nBcc: everyone@example.org", "must be one line"),
            ("APPEALS_SMTP_PORT", "twenty-five", "valid integer"),
            ("APPEALS_TRUSTED_PROXIES", '["not-an-address"]', "APPEALS_TRUSTED_PROXIES"),
            ("APPEALS_DATABASE_URL", "nonsense", "not a database URL: expected postgresql://"),
            ("APPEALS_DATABASE_URL", "mysql://db/appeals", "use PostgreSQL or SQLite"),
        ],
    )
    @pytest.mark.parametrize("command", [("worker", "--once"), ("db", "upgrade")])
    def test_is_one_line_naming_it_and_no_stack_trace(
        self, tmp_path: Path, command: tuple[str, ...], name: str, value: str, problem: str
    ) -> None:
        env = {**os.environ, "APPEALS_VAR_DIR": str(tmp_path / "var"), name: value}
        result = subprocess.run(
            [sys.executable, "-m", "app", *command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: {name}: ")
        assert problem in line
        assert "Traceback" not in result.stderr + result.stdout


def _run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "APPEALS_VAR_DIR": str(tmp_path / "var"), **settings}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _short_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 2, at most two lines on stderr (the problem and the --debug hint), no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


class TestSetupMistakes:
    """The common mistakes of a new installation: one line naming the problem and the fix."""

    def test_a_database_that_does_not_exist(self, tmp_path: Path) -> None:
        url = "postgresql+asyncpg://postgres@127.0.0.1:5432/appeals_no_such_database"
        result = _run(tmp_path, "db", "upgrade", APPEALS_DATABASE_URL=url)
        _short_error(result, "'appeals_no_such_database' does not exist on 127.0.0.1:5432")
        assert "createdb appeals_no_such_database" in result.stderr

    def test_nothing_listening_on_the_database_port(self, tmp_path: Path) -> None:
        port = _free_port()
        url = f"postgresql://postgres@127.0.0.1:{port}/appeals"
        _short_error(
            _run(tmp_path, "import", APPEALS_DATABASE_URL=url),
            f"nothing answers at 127.0.0.1:{port}/appeals",
            "is PostgreSQL running",
        )

    def test_import_before_the_migrations(self, tmp_path: Path) -> None:
        _short_error(_run(tmp_path, "import"), "no tables yet", "appeals db upgrade")

    def test_the_debug_flag_shows_the_traceback(self, tmp_path: Path) -> None:
        result = _run(tmp_path, "--debug", "import")
        assert result.returncode != 0
        assert "Traceback" in result.stderr

    async def test_a_url_without_a_driver_is_given_asyncpg(self, tmp_path: Path) -> None:
        await require_backend("postgresql")
        async with fresh_database("postgresql", tmp_path) as url:
            plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
            assert plain.startswith("postgresql://")
            result = _run(tmp_path, "db", "upgrade", APPEALS_DATABASE_URL=plain)
            assert result.returncode == 0, result.stderr
            assert "psycopg" not in result.stderr

    def test_a_port_in_use(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = _run(
                tmp_path,
                "serve",
                "--port",
                str(port),
                APPEALS_HOST="127.0.0.1",
                APPEALS_TOKEN_SECRET="x" * 40,
            )
        _short_error(result, f"port {port} on 127.0.0.1 is in use", "APPEALS_PORT")

    def test_an_smtp_login_half_given(self, tmp_path: Path) -> None:
        result = _run(tmp_path, "worker", "--once", APPEALS_SMTP_USERNAME="campaign")
        _short_error(result, "APPEALS_SMTP_USERNAME is set but APPEALS_SMTP_PASSWORD is not")


class TestPublicUrl:
    """Links in e-mails follow the port the server listens on, unless APPEALS_PUBLIC_URL says
    where supporters reach it."""

    def test_follows_the_settings_port_and_the_command_line(self) -> None:
        assert Settings(port=9000).public_url == "http://127.0.0.1:9000"
        assert Settings().served_at(None, 9001).public_url == "http://127.0.0.1:9001"
        assert Settings().served_at("0.0.0.0", 9002).public_url == "http://127.0.0.1:9002"  # noqa: S104
        assert Settings().served_at("::", 9003).public_url == "http://[::1]:9003"

    def test_a_given_public_url_stays(self) -> None:
        given = Settings(public_url="https://appeals.example.org", port=9000)
        assert given.served_at(None, 9001).public_url == "https://appeals.example.org"
        assert given.served_at(None, 9001).port == 9001


def _together(n: int, env: dict[str, str], cwd: Path, *args: str) -> tuple[list[int], list[str]]:
    """Run `appeals ARGS` n times at once; their exit codes and outputs."""
    command = [sys.executable, "-m", "app", *args]
    started = [
        subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    outputs = [process.communicate(timeout=180)[0] for process in started]
    return [process.returncode for process in started], outputs


class TestStart:
    """`appeals start serve|worker`, the container's entrypoint: the database brought to this
    version (migrations and the shipped data, idempotent), then the role."""

    def test_prepares_the_database_once_then_works(self, appeals: Appeals) -> None:
        first = appeals("start", "worker", "--once")
        assert first.returncode == 0, first.stderr
        assert "recipients: 21 created" in first.stdout and "cases: 31 created" in first.stdout
        assert "0 deliveries tried" in first.stdout
        again = appeals("start", "worker", "--once")
        assert again.returncode == 0, again.stderr
        assert "recipients: 0 created, 0 updated, 21 unchanged" in again.stdout

    async def test_containers_starting_together_take_turns(self, tmp_path: Path) -> None:
        await require_backend("postgresql")
        async with fresh_database("postgresql", tmp_path) as url:
            env = {**os.environ, "APPEALS_DATABASE_URL": url, "APPEALS_VAR_DIR": str(tmp_path)}
            codes, outputs = _together(3, env, tmp_path, "start", "worker", "--once")
        assert codes == [0, 0, 0], outputs
        created = [out for out in outputs if "recipients: 21 created" in out]
        assert len(created) == 1, outputs  # one container imported; the others found it done

    def test_refuses_the_published_secret(self, appeals: Appeals, cli_env: dict[str, str]) -> None:
        cli_env["APPEALS_TOKEN_SECRET"] = "change-me-in-production"
        result = appeals("start", "serve")
        assert result.returncode == 2
        assert "APPEALS_TOKEN_SECRET" in result.stderr


class TestMailDns:
    def test_prints_the_records_for_the_configured_key(self, tmp_path: Path) -> None:
        key = tmp_path / "dkim.pem"
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        result = _run(
            tmp_path,
            "mail",
            "dns",
            APPEALS_MAIL_DOMAIN="appeals.example.org",
            APPEALS_DKIM_SELECTOR="s2026",
            APPEALS_DKIM_PRIVATE_KEY_FILE=str(key),
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert any(
            line.startswith("s2026._domainkey.appeals.example.org.")
            and '"v=DKIM1; k=rsa; p=' in line
            for line in lines
        )
        assert any(line.startswith("_dmarc.appeals.example.org.") for line in lines)
        assert any('"v=spf1 ' in line for line in lines)

    def test_a_key_file_that_is_not_there_is_one_line(self, tmp_path: Path) -> None:
        result = _run(
            tmp_path,
            "mail",
            "dns",
            APPEALS_DKIM_SELECTOR="s2026",
            APPEALS_DKIM_PRIVATE_KEY_FILE=str(tmp_path / "missing.pem"),
        )
        _short_error(result, "APPEALS_DKIM_PRIVATE_KEY_FILE: cannot read")
