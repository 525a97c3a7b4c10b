"""The `appeals` command line, assembled: each domain's commands live in its own module.

Each command opens its own engine and one session, commits when the command succeeds, and exits
non-zero when something needs a person's attention (so scripts can gate on it).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from app.cases.commands import cases_app
from app.config import get_settings
from app.dataset.commands import import_data
from app.delivery.email.commands import mail_app
from app.delivery.post.commands import post_app
from app.letters.commands import templates_app
from app.recipients.commands import directory_app, recipients_app
from app.responses.commands import inbound_app
from app.runtime import demo, serve, start, worker
from app.schema_commands import db_app
from app.staff.commands import users_app
from app.startup import explain

app = typer.Typer(help="Appeals: letter campaigns for people prosecuted for their civic work.")
app.command("import")(import_data)
app.command("serve")(serve)
app.command("worker")(worker)
app.command("demo")(demo)
app.command("start")(start)
for sub, name in (
    (templates_app, "templates"),
    (post_app, "post"),
    (mail_app, "mail"),
    (inbound_app, "inbound"),
    (db_app, "db"),
    (directory_app, "directory"),
    (cases_app, "cases"),
    (recipients_app, "recipients"),
    (users_app, "users"),
):
    app.add_typer(sub, name=name)


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
        message = explain(exc, database_url=get_settings().effective_database_url)
        if message is None:
            raise
        typer.secho(f"error: {message}", err=True, fg="red")
        typer.echo("(appeals --debug ... shows the full traceback)", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
