"""The `edp` command line (a Flask CLI group)."""
# gevent must patch the standard library before anything else imports it.
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask import current_app  # noqa: E402
from flask.cli import FlaskGroup, with_appcontext  # noqa: E402

from . import create_app  # noqa: E402
from .diagnosis_command import diagnosis_command  # noqa: E402
from .i18n import LANGUAGES  # noqa: E402
from .invite_command import invite_command  # noqa: E402
from .verify import verify_command  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False,
             load_dotenv=False, set_debug_flag=False)
def cli():
    """EDP Live: run the Entrepreneurial Discovery Process live."""


def _upgrade() -> None:
    from flask_migrate import upgrade

    upgrade(directory=str(ROOT / "migrations"))


@cli.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema (idempotent)."""
    _upgrade()
    click.echo("database ready")


def freeze_startup() -> None:
    """Collect once, then freeze what start-up left (about 150,000 objects: Flask, SQLAlchemy,
    pandas): full collections during the workshop no longer scan them."""
    import gc

    gc.collect()
    gc.freeze()


def _serve(host: str, port: int) -> None:
    import errno

    from . import network
    from .extensions import db

    app = current_app._get_current_object()
    # Pages build the join link and the origin check accepts this server's own names from it.
    app.config["LISTEN"] = {"host": host, "port": port}
    _print_addresses(host, port)
    # The command's own session must not keep a transaction (and SQLite's lock) open while
    # the server runs.
    db.session.remove()
    # Served connections wait for SQLite's lock without stalling the process (see app.py).
    from .app import serve_sqlite_busy
    from .server import raise_open_files_limit, serve

    serve_sqlite_busy(app.config.get("SQLITE_BUSY_MS", 50))
    db.engine.dispose()
    before, after = raise_open_files_limit()
    click.echo(f"Open files limit: {after}" + (f" (raised from {before})" if after != before
                                               else ""))
    if app.config.get("GC_FREEZE"):
        freeze_startup()
    try:
        # For the command-line tools run meanwhile: their links follow this server.
        record = network.record_server(app.instance_path, host, port,
                                       str(app.config["SQLALCHEMY_DATABASE_URI"]))
    except OSError as exc:
        record = None
        click.echo(f"warning: cannot record the server's address under instance/: {exc}", err=True)
    try:
        serve(app, host, port, app.config.get("HEADER_TIMEOUT", 10))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} is already in use (another `edp run`?): stop it, or pick another "
                f"port with --port {port + 1}") from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise click.ClickException(
                f"{host} is not an address of this computer (its addresses: "
                f"{', '.join(network.network_addresses()) or 'none'}); "
                "use --host 0.0.0.0 to listen on all of them") from exc
        raise
    finally:
        if record is not None:
            network.forget_server(record)


def _print_addresses(host: str, port: int) -> None:
    """Where this server can be opened, and the join link of each open workshop."""
    from . import network
    from .extensions import db
    from .models import Workshop

    public = current_app.config.get("PUBLIC_URL")
    listen = {"host": host, "port": port}
    network.network_addresses(refresh=True)
    addresses = network.served_addresses(host)
    lines = [f"EDP Live is serving on port {port} (Ctrl+C to stop).",
             f"  On this computer: {network.local_url(listen)}/"]
    if public:
        lines.append(f"  Public address:   {public.rstrip('/')}/  (EDP_PUBLIC_URL)")
    if network.is_wildcard(host):
        for i, address in enumerate(addresses):
            label = "  On the network:   " if i == 0 else " " * 20
            lines.append(f"{label}http://{network.url_host(address)}:{port}/")
    elif not network.is_loopback(host):
        lines.append(f"  On the network:   http://{network.url_host(host.strip('[]'))}:{port}/")
    base, reason = network.join_base(public, listen, None)
    if reason == network.LOOPBACK_ONLY:
        lines += [(f"  Phones cannot reach this server: it listens on {host}, an address of "
                   "this computer only."),
                  "  For a workshop in the room restart it with:  edp run --host 0.0.0.0",
                  "  (or set EDP_PUBLIC_URL to an address phones can reach; see docs/venue.md)."]
        if network.network_addresses():
            lines.append("  This computer's network addresses: "
                         + ", ".join(network.network_addresses()))
    elif reason == network.NO_NETWORK:
        lines += ["  This computer is not connected to any network: phones cannot reach it.",
                  "  Connect it to the venue Wi-Fi or a phone hotspot; the join links and QR codes",
                  "  follow its address once it has one (reload the projector page)."]
    try:
        open_ones = db.session.scalars(
            sa.select(Workshop).where(Workshop.phase != "closed").order_by(Workshop.id.desc())
            .limit(11)).all()
    except sa.exc.SQLAlchemyError:  # no schema yet: `edp init-db` has not run
        db.session.rollback()
        open_ones = []
    join = "Phones join at" if reason is None else "Join link (not for phones, see above):"
    for ws in open_ones[:10]:
        lines.append(f"  {join} {base}/w/{ws.code}  ({ws.title})")
    if len(open_ones) > 10:
        lines.append(f"  ... and more open workshops: {network.local_url(listen)}/f/")
    if not open_ones:
        lines.append(f"  No open workshop yet: create one at {network.local_url(listen)}/f/")
    click.echo("\n".join(lines))
    sys.stdout.flush()


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run(host, port):
    """Serve pages and Socket.IO (gevent, one process)."""
    _serve(host, port)


@cli.group()
def facilitator():
    """Manage facilitators."""


def _find_facilitator(email: str):
    """The facilitator with this e-mail address (any case, spaces around), or None."""
    from .extensions import db
    from .models import Facilitator

    return db.session.scalar(
        sa.select(Facilitator).where(Facilitator.email == email.strip().lower()))


def _facilitator(email: str):
    """The facilitator with this e-mail address, or an error saying how to add one."""
    user = _find_facilitator(email)
    if user is None:
        raise click.ClickException(f"no facilitator {email}: add one with `edp facilitator add`")
    return user


def _facilitator_or_only(email: str | None):
    """The facilitator named by EMAIL, or the only one there is."""
    from .extensions import db
    from .models import Facilitator

    if email:
        return _facilitator(email)
    users = db.session.scalars(sa.select(Facilitator).limit(2)).all()
    if len(users) != 1:
        raise click.ClickException("name the owner with --facilitator EMAIL" if users else
                                   "no facilitator yet: add one with `edp facilitator add`")
    return users[0]


@facilitator.command("add")
@click.argument("email")
@with_appcontext
def facilitator_add(email):
    """Create a facilitator, or reset their password (from EDP_PASSWORD or a prompt)."""
    from .extensions import db
    from .models import Facilitator

    email = email.strip().lower()
    password = _new_password(email)
    user = _find_facilitator(email)
    notify = None
    if user is None:
        user = Facilitator(email=email)
        db.session.add(user)
    else:
        notify = _end_sessions(user)
    user.set_password(password)
    db.session.commit()
    if notify:
        notify()
    click.echo(json.dumps({"id": user.id, "email": user.email}))


@facilitator.command("password")
@click.argument("email")
@with_appcontext
def facilitator_password(email):
    """Change a facilitator's password (from EDP_PASSWORD or a prompt); ends their sessions."""
    from .extensions import db

    user = _facilitator(email)
    user.set_password(_new_password(user.email))
    notify = _end_sessions(user)
    db.session.commit()
    notify()
    click.echo(json.dumps({"id": user.id, "email": user.email, "sessions_ended": True}))


def _new_password(email: str) -> str:
    """The password from EDP_PASSWORD or a prompt, checked against the policy."""
    from .accounts import password_problem

    password = os.environ.get("EDP_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with current_app.test_request_context():  # Flask-Babel picks its language from a request
        problem = password_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    return password


def _end_sessions(user):
    from .accounts import end_sessions

    return end_sessions(user)


@cli.group()
def workshop():
    """Create, export, import and verify workshops."""


def _link_base() -> str:
    """The base of the links the command line prints (see `network.command_line_base`)."""
    from . import network

    return network.command_line_base(lambda message: click.echo(message, err=True))


def _urls(code: str) -> tuple[str, str]:
    base = _link_base()
    return f"{base}/w/{code}", f"{base}/screen/{code}"


@workshop.command("create")
@click.option("--template", "template_path", required=True, type=click.Path(exists=True))
@click.option("--facilitator", "email", required=True)
@click.option("--title", default=None)
@click.option("--method", type=click.Choice(["dot", "score", "rank"]), default=None)
@click.option("--region", default=None, help="The region (default: the template's).")
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="The workshop's language (default: the template's).")
@with_appcontext
def workshop_create(template_path, email, title, method, region, language):
    """Create a workshop from a template; prints one line of JSON."""
    from . import workshop as rules
    from .extensions import db

    user = _facilitator(email)
    try:
        template = rules.load_template(template_path)
        ws = rules.create_workshop(template, user, title, method, region=region,
                                   language=language)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    join_url, screen_url = _urls(ws.code)
    click.echo(json.dumps({"id": ws.id, "code": ws.code, "join_url": join_url,
                           "screen_url": screen_url}))


@workshop.command("export")
@click.argument("code")
@click.option("--format", "fmt", required=True,
              type=click.Choice(["csv", "xlsx", "docx", "json", "md"]))  # = exports.FORMATS
@click.option("--output", required=True, type=click.Path(dir_okay=False))
@with_appcontext
def workshop_export(code, fmt, output):
    """Write an export of the workshop (any time, live or closed)."""
    from . import exports

    ws = _workshop_or_fail(code)
    data, _mimetype, _name = exports.build(ws, fmt)
    Path(output).write_bytes(data)
    click.echo(json.dumps({"code": ws.code, "format": fmt, "output": output, "bytes": len(data)}))


# Defined in edp.verify and edp.invite_command so that tests can run them in-process (this module
# patches gevent).
workshop.add_command(verify_command)
workshop.add_command(invite_command)
workshop.add_command(diagnosis_command)


@workshop.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--facilitator", "email", default=None,
              help="Owner of the new workshop (default: the only facilitator).")
@with_appcontext
def workshop_import(file, email):
    """Recreate a workshop from its JSON record (new id and code); prints one line of JSON."""
    from . import record
    from .extensions import db

    user = _facilitator_or_only(email)
    try:
        ws = record.import_record(record.load(file), user)
    except record.RecordError as exc:
        db.session.rollback()
        raise click.ClickException(f"{file}: {exc}") from exc
    db.session.commit()
    join_url, screen_url = _urls(ws.code)
    click.echo(json.dumps({"id": ws.id, "code": ws.code, "join_url": join_url,
                           "screen_url": screen_url}))


@workshop.command("compare")
@click.argument("code")
@click.argument("partner")
@click.option("--format", "fmt", default="md", show_default=True,
              type=click.Choice(["md", "docx", "json"]))
@click.option("--output", required=True, type=click.Path(dir_okay=False))
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="Language of the brief (default: the workshop's).")
@with_appcontext
def workshop_compare(code, partner, fmt, output, language):
    """Compare the workshop's priorities with a partner region's (a JSON record file or
    another workshop's code) and write the cooperation brief; prints one line of JSON."""
    from . import exports, pairing, record
    from . import workshop as rules

    ws = _workshop_or_fail(code)
    ours = json.loads(exports.build(ws, "json")[0])
    if Path(partner).is_file():
        try:
            theirs = record.load(partner)
        except record.RecordError as exc:
            raise click.ClickException(f"{partner}: {exc}") from exc
    else:
        try:
            other = rules.workshop_by_code(partner)
        except rules.EDPError as exc:
            raise click.ClickException(
                f"{partner} is neither a record file nor a workshop code") from exc
        theirs = json.loads(exports.build(other, "json")[0])
    try:
        comparison = pairing.compare(ours, theirs)
    except pairing.PairingError as exc:
        raise click.ClickException(f"{partner}: {exc}") from exc
    if fmt == "json":
        data = json.dumps(comparison.to_dict(), ensure_ascii=False, indent=2).encode("utf-8")
    else:
        data = pairing.brief(comparison, fmt, language or ws.language or "en")[0]
    Path(output).write_bytes(data)
    click.echo(json.dumps({"code": ws.code, "partner": comparison.theirs.region,
                           "format": fmt, "output": output, "bytes": len(data),
                           "shared": len(comparison.shared),
                           "complementary": len(comparison.complementary),
                           "distinct": len(comparison.distinct)}, ensure_ascii=False))


@cli.command("demo")
# The demo is for trying the app with phones: it listens on every address (docs/venue.md).
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--participants", default=40, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed only; do not start the server.")
@with_appcontext
def demo(host, port, participants, no_serve):
    """Seed a facilitator, a workshop and simulated votes, then serve it."""
    from . import workshop as rules
    from .extensions import db
    from .models import Facilitator

    _upgrade()
    email, password = "demo@example.org", os.environ.get("EDP_PASSWORD", "demo-facilitator")
    user = _find_facilitator(email)
    if user is None:
        user = Facilitator(email=email)
        db.session.add(user)
    user.set_password(password)
    template_path = min((ROOT / "workshops").glob("*.toml"))
    ws = rules.create_workshop(rules.load_template(template_path), user)
    db.session.commit()
    _demo_evidence(ws)
    simulate(ws, participants)
    if not no_serve:
        current_app.config["LISTEN"] = {"host": host, "port": port}
    join_url, _screen_url = _urls(ws.code)
    # The console and the projector open on this computer; phones use the network address.
    from . import network

    public = current_app.config.get("PUBLIC_URL")
    listen = current_app.config.get("LISTEN")
    here = (public.rstrip("/") if public
            else network.local_url(listen) if listen else join_url.rsplit("/w/", 1)[0])
    click.echo(
        f"\nEDP Live demo ready: workshop {ws.code} \"{ws.title}\"\n"
        f"  facilitator console: {here}/f/w/{ws.id}  (log in as {email} / {password})\n"
        f"  projector:           {here}/screen/{ws.code}\n"
        f"  phones:              {join_url}\n"
    )
    sys.stdout.flush()
    if not no_serve:
        _serve(host, port)


# The illustrative diagnosis file and the sectors of the first template's seed domains.
DEMO_DIAGNOSIS = ROOT / "workshops" / "example-diagnosis.csv"
DEMO_SECTORS = {
    "Advanced manufacturing for the energy transition": ["27", "28", "35"],
    "Digital services for public health": ["62", "86"],
    "Sustainable tourism and cultural heritage": ["55", "79", "91"],
}


def _demo_evidence(ws) -> None:
    """Load the illustrative diagnosis data and link the seed domains to their sectors, so the
    demo shows the region's evidence beside them."""
    from . import evidence
    from . import workshop as rules
    from .extensions import db

    if not DEMO_DIAGNOSIS.exists():
        return
    try:
        evidence.load(ws, DEMO_DIAGNOSIS.read_bytes(), DEMO_DIAGNOSIS.name,
                      source="Illustrative data (example-diagnosis.csv)")
    except evidence.DiagnosisError:
        db.session.rollback()  # a template whose region is not in the file: no evidence
        return
    for d in rules.domains_of(ws):
        if d.title in DEMO_SECTORS:
            rules.link(ws, d.id, DEMO_SECTORS[d.title])
    db.session.commit()


def simulate(ws, participants: int, seed: int = 7) -> None:
    """Fill a workshop with participants who write and react to a vision (one statement
    adopted), propose, comment, write SWOT items, give the funders' signal and vote, as a real
    room would."""
    from . import method
    from . import workshop as rules
    from .extensions import db

    rng = random.Random(seed)
    helices = ws.helix_keys()
    rules.set_phase(ws, "vision")
    people = []
    for i in range(participants):
        p, _ = rules.join(ws.code, helices[i % len(helices)], name=f"Demo {i + 1}")
        people.append(p)
    visions = [
        "In 2035 the region exports clean energy and the know-how to make it.",
        "In 2035 young people find skilled work without leaving the region.",
        "In 2035 every farm is a technology start-up.",
    ]
    statements = [method.statement(p, text) for text, p in zip(visions, people)]
    for p in people:
        for s, agree in zip(statements, (0.85, 0.7, 0.3)):
            method.react(p, s.id, "agree" if rng.random() < agree
                         else rng.choice(["disagree", "pass"]))
    method.adopt(ws, statements[0].id, True)
    db.session.commit()
    rules.set_phase(ws, "propose")
    ideas = [
        ("Circular bio-economy", "Valorising agri-food residues into bio-materials and energy."),
        ("Digital health services", "Telemedicine and health data platforms for remote areas."),
        ("Sustainable tourism", "Nature and culture tourism with low environmental footprint."),
    ]
    for (title, description), p in zip(ideas, people):
        rules.propose(p, title, description, sdgs=[rng.randint(1, 17)])
    db.session.commit()
    rules.set_phase(ws, "discuss")
    domains = rules.domains_of(ws, rules.VOTABLE)
    stances = ["support", "support", "concern", "question", "evidence"]
    for p in people[: max(1, participants // 3)]:
        d = rng.choice(domains)
        rules.comment(p, d.id, rng.choice(stances), f"Comment on {d.title} from {p.helix}.")
    swot = [("strength", "Two university labs already work on it."),
            ("weakness", "Few firms can invest in pilots."),
            ("opportunity", "The next EU funding call fits it."),
            ("threat", "Neighbouring regions move faster.")]
    for n, d in enumerate(domains[:4]):
        for k, (quadrant, text) in enumerate(swot[: 4 - n % 2]):
            method.swot(people[(n + k) % len(people)], d.id, quadrant, text)
    funders = [p for p in people if method.is_funder(ws, p.helix)]
    instruments = ["ERDF regional programme", "Regional development bank", ""]
    for p in funders:
        for d in domains:
            method.fund(p, d.id, rng.choice(method.SIGNALS), rng.choice(instruments))
    db.session.commit()
    rules.set_phase(ws, "vote")
    for p in people:
        if ws.method == "dot":
            left = ws.budget
            for d in rng.sample(domains, k=min(3, len(domains))):
                pts = rng.randint(0, min(left, ws.cap or left))
                if pts:
                    left = rules.vote(p, d.id, pts)
        elif ws.method == "score":
            for d in rng.sample(domains, k=min(3, len(domains))):
                for c in ws.criteria:
                    rules.score(p, d.id, c["key"], rng.randint(1, 5))
        else:
            order = [d.id for d in rng.sample(domains, k=min(4, len(domains)))]
            rules.rank(p, order)
    rules.reveal(ws, True)  # the projector shows the live chart straight away
    db.session.commit()


@cli.group()
def process():
    """Continuous EDP: processes, rounds and their comparison."""


def _workshop_or_fail(code: str):
    from . import workshop as rules

    try:
        return rules.workshop_by_code(code)
    except rules.EDPError as exc:
        raise click.ClickException(f"no workshop with code {code}") from exc


def _process_or_fail(process_id: int):
    from .extensions import db
    from .models import Process

    found = db.session.get(Process, process_id)
    if found is None:
        raise click.ClickException(f"no process {process_id}")
    return found


def _refused(exc) -> click.ClickException:
    from flask_babel import force_locale

    from .extensions import db

    db.session.rollback()
    with force_locale("en"):  # no request here to choose a language from
        return click.ClickException(f"{exc.code}: {exc.message}")


@process.command("create")
@click.option("--title", required=True)
@click.option("--region", default="")
@click.option("--description", default="")
@click.option("--facilitator", "email", default=None,
              help="Owner of the process (default: the only facilitator).")
@with_appcontext
def process_create(title, region, description, email):
    """Create a process (the rounds of one region over time); prints one line of JSON."""
    from . import processes
    from . import workshop as rules
    from .extensions import db

    user = _facilitator_or_only(email)
    try:
        found = processes.create_process(user, title, region, description)
    except rules.EDPError as exc:
        raise _refused(exc) from exc
    db.session.commit()
    click.echo(json.dumps({"id": found.id, "title": found.title, "region": found.region}))


@process.command("add")
@click.argument("process_id", type=int)
@click.argument("code")
@with_appcontext
def process_add(process_id, code):
    """Attach an existing workshop to a process as its next round."""
    from . import processes
    from . import workshop as rules
    from .extensions import db

    found, ws = _process_or_fail(process_id), _workshop_or_fail(code)
    try:
        number = processes.attach(found, ws)
    except rules.EDPError as exc:
        raise _refused(exc) from exc
    db.session.commit()
    click.echo(json.dumps({"process_id": found.id, "id": ws.id, "code": ws.code,
                           "round": number}))


@process.command("next-round")
@click.argument("code")
@click.option("--carry", default="all", show_default=True,
              help="all (every approved domain), priorities (the decided short list), "
                   "or domain ids: 12,15,18")
@click.option("--title", default=None)
@with_appcontext
def process_next_round(code, carry, title):
    """Create the next round of a workshop, carrying domains forward; prints one line of JSON."""
    from . import processes
    from . import workshop as rules
    from .extensions import db

    previous = _workshop_or_fail(code)
    if carry in ("all", processes.CARRY_ALL):
        chosen = processes.CARRY_ALL
    elif carry == processes.CARRY_PRIORITIES:
        chosen = processes.CARRY_PRIORITIES
    else:
        try:
            chosen = [int(x) for x in carry.split(",") if x.strip()]
        except ValueError as exc:
            raise click.ClickException(
                f"--carry must be all, priorities or domain ids (12,15): {carry!r}") from exc
    try:
        ws = processes.new_round(previous, title=title, carry=chosen)
    except rules.EDPError as exc:
        raise _refused(exc) from exc
    db.session.commit()
    join_url, screen_url = _urls(ws.code)
    click.echo(json.dumps({"id": ws.id, "code": ws.code, "join_url": join_url,
                           "screen_url": screen_url, "process_id": ws.process_id,
                           "round": ws.round_no}))


@process.command("compare")
@click.argument("earlier")
@click.argument("later")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "xlsx", "md"]))
@click.option("--output", required=True, type=click.Path(dir_okay=False))
@with_appcontext
def process_compare(earlier, later, fmt, output):
    """Write the comparison of two rounds (by join code): kept, added and dropped domains."""
    from . import rounds_export
    from . import workshop as rules

    a, b = _workshop_or_fail(earlier), _workshop_or_fail(later)
    try:
        data, _mimetype, _name = rounds_export.build(a, b, fmt)
    except rules.EDPError as exc:
        raise _refused(exc) from exc
    Path(output).write_bytes(data)
    click.echo(json.dumps({"earlier": a.code, "later": b.code, "format": fmt,
                           "output": output, "bytes": len(data)}))


@process.command("show")
@click.argument("process_id", type=int)
@with_appcontext
def process_show(process_id):
    """Print the process and its rounds as JSON."""
    from . import processes

    click.echo(json.dumps(processes.process_dict(_process_or_fail(process_id)),
                          ensure_ascii=False))


def main() -> None:
    cli(prog_name="edp")


if __name__ == "__main__":
    main()
