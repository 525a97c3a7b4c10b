"""The `appeals` command line, assembled: each domain's commands live in its own module.

Each command opens its own engine and one session, commits when the command succeeds, and exits
non-zero when something needs a person's attention (so scripts can gate on it).
"""

from __future__ import annotations

import typer

from app.cases.commands import cases_app
from app.dataset.commands import import_data
from app.delivery.post.commands import post_app
from app.letters.commands import templates_app
from app.recipients.commands import directory_app, recipients_app
from app.responses.commands import inbound_app
from app.runtime import demo, serve, worker
from app.schema_commands import db_app
from app.staff.commands import users_app

app = typer.Typer(help="Appeals: letter campaigns for people prosecuted for their civic work.")
app.command("import")(import_data)
app.command("serve")(serve)
app.command("worker")(worker)
app.command("demo")(demo)
for sub, name in (
    (templates_app, "templates"),
    (post_app, "post"),
    (inbound_app, "inbound"),
    (db_app, "db"),
    (directory_app, "directory"),
    (cases_app, "cases"),
    (recipients_app, "recipients"),
    (users_app, "users"),
):
    app.add_typer(sub, name=name)


def main() -> None:
    app(prog_name="appeals")


if __name__ == "__main__":
    main()
