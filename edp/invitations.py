"""Personal invitations: the organiser's list of invitees, each with a token that is their key
to the workshop (`join` `{code, invite}`) and the helix the organiser assigned.

A workshop whose template says `join = "invite"` admits invitees only; an open one admits
walk-ins too, counted apart (`summary`). Invitees come from a CSV file (`edp workshop invite`,
or the upload on the printable page): all of it or none of it, and reading the same file again
adds no one twice and keeps every token.

The command line's `edp workshop invite` is in edp/invite_command.py.
"""
from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from . import workshop as rules
from .extensions import db
from .i18n import fold_accents
from .models import Invitation, Participant, Workshop

# Invitees read from one file at most (a workshop of 3,000 has room for them all).
MAX_ROWS = 5000
# 16 characters in a link: 96 random bits, not guessable, short enough for a QR code.
TOKEN_BYTES = 12
# Longest values (the columns of `Invitation`).
MAX_LEN = {"name": 120, "organisation": 200, "email": 254}
COLUMNS = ("name", "organisation", "helix", "email")
REQUIRED = ("name", "organisation", "helix")
# Header names as people write them (folded: lower case, no accents), in our three languages.
HEADERS = {
    "name": "name", "nombre": "name", "nome": "name",
    "organisation": "organisation", "organization": "organisation",
    "organizacion": "organisation", "organizacao": "organisation",
    "helix": "helix", "helice": "helix", "group": "helix", "grupo": "helix",
    "email": "email", "e-mail": "email", "mail": "email", "correo": "email",
    "correo electronico": "email",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvitationError(ValueError):
    """A refused invitee list; the message (translated) names the line and column at fault."""


@dataclass
class Invitee:
    """One row of the file, checked: the helix is the workshop's key."""

    line: int
    name: str
    organisation: str
    helix: str
    email: str

    def key(self) -> tuple[str, ...]:
        """Who this is: the e-mail when given, else name, organisation and helix."""
        if self.email:
            return ("email", self.email.casefold())
        return ("who", *_who(self))


def _fold(text: str) -> str:
    return " ".join(fold_accents(text).casefold().split())


def _who(person: Invitee | Invitation) -> tuple[str, str, str]:
    return _fold(person.name), _fold(person.organisation), person.helix


def _problem(line: int, column: str, problem: str) -> InvitationError:
    return InvitationError(_("Line %(line)s, column %(column)s: %(problem)s",
                             line=line, column=column, problem=problem))


def helix_names(ws: Workshop) -> dict[str, str]:
    """Every way a helix may be written in the file (its key, its label in any language),
    folded, to its key."""
    names: dict[str, str] = {}
    for h in ws.helices:
        for written in [h["key"], h.get("label", ""), *(h.get("labels") or {}).values()]:
            if str(written).strip():
                names.setdefault(_fold(str(written)), h["key"])
    return names


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvitationError(_("The file is not UTF-8 text: save it as “CSV UTF-8” and "
                                "try again.")) from exc


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Commas, or the semicolons (or tabs) spreadsheets write in Spanish and Portuguese."""
    first = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def read_csv(ws: Workshop, data: bytes | str) -> list[Invitee]:
    """The invitees of a CSV file (columns name, organisation, helix, optional email; header
    names in any case), checked against the workshop; the same person twice counts once.
    Raises InvitationError naming the first line and column at fault."""
    text = _text(data)
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        header = next(reader, None)
        columns = [HEADERS.get(_fold(name)) for name in header or []]
        missing = [c for c in REQUIRED if c not in columns]
        if not header or missing:
            raise InvitationError(_(
                "The first line must name the columns name, organisation and helix (email is "
                "optional); missing: %(columns)s.", columns=", ".join(missing or REQUIRED)))
        names = helix_names(ws)
        found: dict[tuple[str, ...], Invitee] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(found) >= MAX_ROWS:
                raise InvitationError(_("The file lists more than %(limit)s invitees; split it "
                                        "in several files.", limit=MAX_ROWS))
            invitee = _invitee(reader.line_num, dict(_cells(columns, row)), names, ws)
            earlier = found.get(invitee.key())
            if earlier is None:
                found[invitee.key()] = invitee
            elif (earlier.name, earlier.organisation, earlier.helix) != (
                    invitee.name, invitee.organisation, invitee.helix):
                raise _problem(invitee.line, "email", _(
                    "the same e-mail as line %(other)s with another name, organisation or "
                    "group", other=earlier.line))
    except csv.Error as exc:
        raise InvitationError(_("The file is not a CSV table (line %(line)s).",
                                line=reader.line_num)) from exc
    if not found:
        raise InvitationError(_("The file lists no invitees."))
    return list(found.values())


def _cells(columns: list[str | None], row: list[str]):
    for column, cell in zip(columns, row):
        if column is not None:
            yield column, " ".join(cell.split())


def _invitee(line: int, cells: dict[str, str], names: dict[str, str], ws: Workshop) -> Invitee:
    for column in COLUMNS:
        limit = MAX_LEN.get(column)
        if limit and len(cells.get(column, "")) > limit:
            raise _problem(line, column, _("at most %(n)s characters", n=limit))
    if not cells.get("name"):
        raise _problem(line, "name", _("the name is empty"))
    written = cells.get("helix", "")
    helix = names.get(_fold(written))
    if helix is None:
        groups = ", ".join(h["key"] for h in ws.helices)
        raise _problem(line, "helix", _("“%(value)s” is not one of this workshop's groups "
                                        "(%(groups)s)", value=written, groups=groups))
    email = cells.get("email", "")
    if email and not EMAIL.match(email):
        raise _problem(line, "email", _("“%(value)s” is not an e-mail address", value=email))
    return Invitee(line, cells["name"], cells.get("organisation", ""), helix, email)


def add_invitations(ws: Workshop, invitees: list[Invitee]) -> list[tuple[Invitation, bool]]:
    """Each invitee's invitation (the earlier one when it exists, corrected from the file;
    new ones with a fresh token), in the file's order, with True for the new ones. The
    caller commits; nothing is written when an invitee is refused."""
    earlier = invitations_of(ws)
    by_email = {inv.email.casefold(): inv for inv in reversed(earlier) if inv.email}
    by_who = {_who(inv): inv for inv in reversed(earlier)}
    joined = dict(db.session.execute(
        sa.select(Participant.invitation_id, Participant.helix)
        .where(Participant.workshop_id == ws.id, Participant.invitation_id.is_not(None))).all())
    out: list[tuple[Invitation, bool]] = []
    changed = 0
    for person in invitees:
        inv = by_who.get(_who(person))
        if person.email:  # someone invited earlier without an e-mail gets this one
            inv = by_email.get(person.email.casefold()) or (inv if inv and not inv.email else None)
        if inv is None:
            inv = Invitation(workshop_id=ws.id, token=secrets.token_urlsafe(TOKEN_BYTES),
                             name=person.name, organisation=person.organisation,
                             helix=person.helix, email=person.email)
            db.session.add(inv)
            out.append((inv, True))
            continue
        if inv.id in joined and person.helix != inv.helix:
            raise _problem(person.line, "helix", _(
                "%(name)s has already joined as %(helix)s; their group can no longer change",
                name=inv.name, helix=inv.helix))
        new = (person.name, person.organisation, person.helix, person.email or inv.email)
        if new != (inv.name, inv.organisation, inv.helix, inv.email):
            inv.name, inv.organisation, inv.helix, inv.email = new
            changed += 1
        out.append((inv, False))
    db.session.flush()
    added = sum(1 for _inv, new in out if new)
    if added or changed:
        # How many, never who (names and e-mails stay out of the record).
        rules.record(ws, "invite", "facilitator", added=added, changed=changed,
                     invitations=len(earlier) + added)
    return out


def import_csv(ws: Workshop, data: bytes | str) -> list[tuple[Invitation, bool]]:
    """`read_csv` then `add_invitations` (the caller commits, or rolls back on an error)."""
    return add_invitations(ws, read_csv(ws, data))


def join_url(base: str, ws: Workshop, invitation: Invitation) -> str:
    """The invitee's personal link: the workshop's join link with their token."""
    return f"{base.rstrip('/')}/w/{ws.code}?invite={invitation.token}"


def invitee_dict(ws: Workshop, invitation: Invitation, base: str) -> dict[str, Any]:
    return {"name": invitation.name, "organisation": invitation.organisation,
            "helix": invitation.helix, "email": invitation.email, "token": invitation.token,
            "join_url": join_url(base, ws, invitation)}


def invitations_of(ws: Workshop) -> list[Invitation]:
    return list(db.session.scalars(sa.select(Invitation).where(Invitation.workshop_id == ws.id)
                                   .order_by(Invitation.id)))


def invitation_by_token(ws: Workshop, token: str | None, lock: bool = False) -> Invitation | None:
    """The workshop's invitation with this token, or None. `lock`: a row lock on PostgreSQL, so
    two joins with one invitation at once cannot make two participants (SQLite already
    serialises writers)."""
    if not token or len(token) > 64:
        return None
    query = sa.select(Invitation).where(Invitation.token == token,
                                        Invitation.workshop_id == ws.id)
    if lock and db.session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    return db.session.scalar(query)


def admitted(ws: Workshop, token: str) -> tuple[Invitation, Participant | None]:
    """The invitation with this token and its participant (None before the first join);
    `invite_required` for a token that is not one of this workshop's invitations."""
    invitation = invitation_by_token(ws, token, lock=True)
    if invitation is None:
        raise rules.fail("invite_required")
    p = db.session.scalar(sa.select(Participant).where(Participant.invitation_id == invitation.id)
                          .order_by(Participant.id).limit(1))
    return invitation, p


def summary(ws: Workshop) -> dict[str, Any]:
    """For the facilitator: invitations sent, invitees joined, walk-ins (in all and by helix)."""
    invitations = db.session.scalar(
        sa.select(sa.func.count(Invitation.id)).where(Invitation.workshop_id == ws.id)) or 0
    invited = Participant.invitation_id.is_not(None)
    rows = db.session.execute(
        sa.select(Participant.helix, invited, sa.func.count(Participant.id))
        .where(Participant.workshop_id == ws.id).group_by(Participant.helix, invited)).all()
    by_helix = dict.fromkeys(ws.helix_keys(), 0)
    joined = 0
    for helix, is_invited, n in rows:
        if is_invited:
            joined += int(n)
        else:
            by_helix[helix] = by_helix.get(helix, 0) + int(n)
    return {"invitations": int(invitations), "joined": joined,
            "walk_ins": sum(by_helix.values()), "walk_ins_by_helix": by_helix}
