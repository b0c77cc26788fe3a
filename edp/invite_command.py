"""`edp workshop invite CODE --file invitees.csv`: personal invitations from a CSV file.

The command lives here rather than in `edp.cli` so that tests can run it in-process with
Flask's CLI runner (importing `edp.cli` patches the interpreter with gevent); like `edp.cli` it
imports the app's modules only when it runs, so `edp --help` stays quick. The rules are in
`edp.invitations`.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("invite")
@click.argument("code")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False),
              help="CSV with the columns name, organisation, helix and, optionally, email.")
@click.option("--output", default=None, type=click.Path(dir_okay=False),
              help="Write the JSON lines to this file instead of printing them.")
@with_appcontext
def invite_command(code: str, file: str, output: str | None) -> None:
    """Invite people from a CSV file (columns name, organisation, helix, optional email):
    one line of JSON per invitee with a personal join_url. Running it again with the same
    file adds no one twice and keeps every link."""
    from flask_babel import force_locale

    from . import invitations, network
    from . import workshop as rules
    from .extensions import db

    with force_locale("en"):  # no request here to choose a language from
        try:
            ws = rules.workshop_by_code(code)
        except rules.EDPError as exc:
            raise click.ClickException(f"no workshop with code {code}") from exc
        try:
            found = invitations.import_csv(ws, Path(file).read_bytes())
        except OSError as exc:
            raise click.ClickException(f"{file}: {exc.strerror or exc}") from exc
        except invitations.InvitationError as exc:
            db.session.rollback()
            raise click.ClickException(f"{file}: {exc}") from exc
        db.session.commit()
    base = network.command_line_base(lambda message: click.echo(message, err=True))
    lines = [json.dumps(invitations.invitee_dict(ws, inv, base), ensure_ascii=False)
             for inv, _new in found]
    if output is None:
        click.echo("\n".join(lines))
        return
    Path(output).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    click.echo(json.dumps({"code": ws.code, "output": output, "invitees": len(found),
                           "added": sum(1 for _inv, new in found if new)}))
