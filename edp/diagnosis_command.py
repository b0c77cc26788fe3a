"""`edp workshop diagnosis CODE --file FILE.csv|xlsx [--region NAME]`: the region's data.

Here rather than in `edp.cli` so that tests can run it in-process with Flask's CLI runner (as
`edp.invite_command`); the rules are in `edp.evidence`.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("diagnosis")
@click.argument("code")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False),
              help="CSV or XLSX with the columns region, sector, value and, optionally, "
                   "sector_name and year.")
@click.option("--region", default=None,
              help="The workshop's region as the file names it (default: the template's).")
@click.option("--source", default=None,
              help="Where the figures come from (default: the file's name).")
@with_appcontext
def diagnosis_command(code: str, file: str, region: str | None, source: str | None) -> None:
    """Load the region's diagnosis data (region × sector values of employment, exports, firms
    or patents) into a workshop, replacing an earlier load; prints one line of JSON with the
    region, the source, the year and the counts. A bad file changes nothing."""
    from flask_babel import force_locale

    from . import evidence
    from . import workshop as rules
    from .extensions import db

    with force_locale("en"):  # no request here to choose a language from
        try:
            ws = rules.workshop_by_code(code)
        except rules.EDPError as exc:
            raise click.ClickException(f"no workshop with code {code}") from exc
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise click.ClickException(f"{file}: {exc.strerror or exc}") from exc
        try:
            diag = evidence.load(ws, data, Path(file).name, region=region, source=source)
            summary = evidence.summary(ws, diag)
        except evidence.DiagnosisError as exc:
            db.session.rollback()
            raise click.ClickException(f"{file}: {exc}") from exc
        db.session.commit()
    click.echo(json.dumps({"code": ws.code, **summary}, ensure_ascii=False))
