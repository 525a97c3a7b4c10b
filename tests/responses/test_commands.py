"""`appeals inbound eml` and `appeals inbound imap`, run as real subprocesses."""

from __future__ import annotations

from tests.responses.conftest import SAMPLES
from tests.test_cli import Appeals, appeals, cli_env

__all__ = ["appeals", "cli_env"]


class TestInboundCommands:
    def test_an_eml_file_goes_through_the_pipeline_once(self, appeals: Appeals) -> None:
        assert appeals("db", "upgrade").returncode == 0
        path = str(SAMPLES / "gmail-vacation.eml")
        first = appeals("inbound", "eml", path)
        assert first.returncode == 0, first.stderr
        # No delivery exists in this database: the auto-reply waits for review.
        assert first.stdout.strip() == "message 1: auto_reply, unmatched"
        again = appeals("inbound", "eml", path)
        assert again.stdout.strip() == "message 1: auto_reply, unmatched"

    def test_imap_without_a_server_configured_says_so(self, appeals: Appeals) -> None:
        assert appeals("db", "upgrade").returncode == 0
        result = appeals("inbound", "imap", "--once")
        assert result.returncode == 2
        assert "no IMAP server configured" in result.stderr
