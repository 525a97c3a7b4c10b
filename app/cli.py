"""The `appeals` command line, assembled: each domain's commands live in its own module.

Each command opens its own engine and one session, commits when the command succeeds, and exits
non-zero when something needs a person's attention (so scripts can gate on it).

The commands' modules are imported only when their command runs: `appeals --help` lists them from
`COMMANDS` below without loading the web framework, the ORM or the templates (typer alone), and
`appeals worker` loads what the worker needs and nothing of `appeals import`. The listed help
texts are checked against the commands' own by the tests.
"""

from __future__ import annotations

import importlib
import os
from typing import Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup


class Entry(NamedTuple):
    module: str
    attribute: str
    help: str


COMMANDS: dict[str, Entry] = {
    "import": Entry(
        "app.dataset.commands",
        "import_data",
        "Import cases and offices from their YAML folders. Idempotent; exit 1 on any problem.",
    ),
    "serve": Entry("app.runtime", "serve", "Serve the web app and API."),
    "worker": Entry(
        "app.working",
        "worker",
        "Deliver due letters until stopped (SIGTERM/SIGINT finish the current round).",
    ),
    "demo": Entry(
        "app.runtime",
        "demo",
        "The embedded setup in one go: SQLite under ./var, migrations, the report's data, "
        "a server.",
    ),
    "start": Entry(
        "app.runtime",
        "start",
        "What a container runs: check the secret, migrate and import, then serve or work.",
    ),
    "templates": Entry("app.letters.commands", "templates_app", "Letter templates."),
    "post": Entry("app.delivery.post.commands", "post_app", "Letters for the post."),
    "mail": Entry("app.delivery.email.commands", "mail_app", "Outgoing mail."),
    "inbound": Entry(
        "app.responses.commands", "inbound_app", "Inbound mail: replies, auto-replies and bounces."
    ),
    "db": Entry("app.schema_commands", "db_app", "The database schema (Alembic migrations)."),
    "directory": Entry("app.recipients.commands", "directory_app", "The directory of offices."),
    "cases": Entry("app.cases.commands", "cases_app", "Browse the cases."),
    "recipients": Entry("app.recipients.commands", "recipients_app", "Browse the directory."),
    "users": Entry("app.staff.commands", "users_app", "Staff accounts and API tokens."),
    "evidence": Entry(
        "app.evidence.commands", "evidence_app", "Proof of delivery: letters' dossiers."
    ),
}


def load(name: str) -> TyperCommand | TyperGroup:
    """The command behind `appeals NAME`, importing its module now."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    command: TyperCommand | TyperGroup
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer()
        single.command(name)(target)
        made = typer.main.get_command(single)
        assert isinstance(made, TyperCommand)
        command = made
    command.name = name
    return command


class _Commands(TyperGroup):
    """A group whose sub-commands are imported on first use; the help listing names them from
    `COMMANDS` without importing any."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> TyperCommand | TyperGroup | None:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        return load(cmd_name)

    # The context and formatter are click's (which typer may vendor): passed through untouched.
    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_Commands,
    help="Appeals: letter campaigns for people prosecuted for their civic work.",
)


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when something fails.")
    ] = False,
) -> None:
    if debug:
        os.environ["APPEALS_DEBUG"] = "1"


def main() -> None:
    """`appeals`: a known set-up mistake is one line and exit status 2; with --debug (or
    APPEALS_DEBUG=1) the full traceback."""
    try:
        app(prog_name="appeals")
    except Exception as exc:
        if os.environ.get("APPEALS_DEBUG"):
            raise
        from app.config import get_settings
        from app.startup import explain

        message = explain(exc, database_url=get_settings().effective_database_url)
        if message is None:
            raise
        typer.secho(f"error: {message}", err=True, fg="red")
        typer.echo("(appeals --debug ... shows the full traceback)", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
