"""Typed SQLAlchemy 2 models. The Event table is the append-only deliberation record."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class Facilitator(UserMixin, db.Model):
    __tablename__ = "facilitator"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of every session's user id (`get_id`): a new one ends all of this facilitator's
    # sessions, cookies and open sockets alike (log-out, password change).
    session_token: Mapped[str | None] = mapped_column(sa.String(64), default=new_session_token)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        if not self.session_token:
            self.session_token = new_session_token()
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        """Every session opened so far stops working (the caller commits)."""
        self.session_token = new_session_token()


# One dummy hash per hashing function in force (made the way real ones are made now).
_dummy_hashes: dict[int, str] = {}


def check_dummy_password(password: str) -> bool:
    """The same hashing work as a real check, for an e-mail nobody has: how long a wrong
    log-in takes must not tell whether the account exists."""
    key = id(generate_password_hash)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = generate_password_hash(secrets.token_urlsafe(16))
    check_password_hash(_dummy_hashes[key], password)
    return False


class Health(db.Model):
    """One row that /healthz updates: proof that the database takes writes, not only reads."""

    __tablename__ = "health"
    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class Process(db.Model):
    """A continuous EDP: the workshops (rounds) of one region over time, in order."""

    __tablename__ = "process"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    region: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    facilitator_id: Mapped[int] = mapped_column(sa.ForeignKey("facilitator.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    facilitator: Mapped[Facilitator] = relationship()


class Workshop(db.Model):
    __tablename__ = "workshop"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True, index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    region: Mapped[str] = mapped_column(sa.String(200), default="")
    language: Mapped[str] = mapped_column(sa.String(5), default="en")
    method: Mapped[str] = mapped_column(sa.String(8), default="dot")
    budget: Mapped[int] = mapped_column(default=10)
    # Optional cap on the points one participant may put on one domain (dot method).
    cap: Mapped[int | None] = mapped_column(default=None)
    max_priorities: Mapped[int] = mapped_column(default=5)
    phase: Mapped[str] = mapped_column(sa.String(10), default="lobby")
    # Optional countdown for the current phase (shown on the projector and phones).
    phase_ends_at: Mapped[datetime | None] = mapped_column(default=None)
    results_shown: Mapped[bool] = mapped_column(default=False)
    # "open": new phones may join; "closed": only rejoins with a token (the facilitator's switch).
    joining: Mapped[str] = mapped_column(sa.String(6), default="open", server_default="open")
    # "post": proposals are visible at once and may be hidden; "pre": they wait for approval.
    moderation: Mapped[str] = mapped_column(sa.String(4), default="post")
    helices: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    facilitator_id: Mapped[int] = mapped_column(sa.ForeignKey("facilitator.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Continuous EDP: the process this workshop is a round of, its number there, and the
    # round it was created from (see edp/processes.py).
    process_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("process.id"), index=True, default=None
    )
    round_no: Mapped[int | None] = mapped_column(default=None)
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("workshop.id"), default=None)

    facilitator: Mapped[Facilitator] = relationship()

    def helix_keys(self) -> list[str]:
        return [h["key"] for h in self.helices]


class Participant(db.Model):
    __tablename__ = "participant"
    # One invitation, one participant (NULLs, the walk-ins, are never equal).
    __table_args__ = (sa.Index("uq_participant_invitation", "invitation_id", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    helix: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    organisation: Mapped[str] = mapped_column(sa.String(200), default="")
    language: Mapped[str] = mapped_column(sa.String(5), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Joined through a personal invitation: the helix is the organiser's, not self-declared.
    invitation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invitation.id"),
        default=None)

    @property
    def invited(self) -> bool:
        return self.invitation_id is not None


class Invitation(db.Model):
    """A personal invitation: the organiser assigns the helix; the token is the invitee's
    key to the workshop (`join` `{code, invite}`)."""

    __tablename__ = "invitation"
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    organisation: Mapped[str] = mapped_column(sa.String(200), default="")
    helix: Mapped[str] = mapped_column(sa.String(40))
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Statement(db.Model):
    """A vision statement ("In 2035 the region..."), written in the `vision` phase."""

    __tablename__ = "statement"
    __table_args__ = (
        sa.UniqueConstraint("participant_id", "client_id", name="uq_statement_client"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    # None: written by the facilitator or carried from an earlier round.
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("participant.id"), default=None)
    text: Mapped[str] = mapped_column(sa.Text)
    adopted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    client_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    carried_from_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("statement.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reaction(db.Model):
    """One participant's agree / disagree / pass on one statement (set, not added)."""

    __tablename__ = "reaction"
    __table_args__ = (sa.UniqueConstraint("participant_id", "statement_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("statement.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"))
    reaction: Mapped[str] = mapped_column(sa.String(8))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Domain(db.Model):
    __tablename__ = "domain"
    # A client's id for its action makes a retried proposal harmless (idempotency).
    __table_args__ = (sa.UniqueConstraint("participant_id", "client_id", name="uq_domain_client"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    rationale: Mapped[str] = mapped_column(sa.Text, default="")
    sdgs: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    # pending | approved | hidden | merged
    status: Mapped[str] = mapped_column(sa.String(10), default="approved")
    seed: Mapped[bool] = mapped_column(default=False)
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("domain.id"), default=None)
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("participant.id"), default=None
    )
    client_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    # The domain of an earlier round that this one continues (carried forward).
    carried_from_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("domain.id"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sector codes of the workshop's diagnosis data this domain is about (edp/evidence.py).
    sectors: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")


class Diagnosis(db.Model):
    """The region's diagnosis data loaded into a workshop: one row per workshop, the whole
    region × sector table in `data` (a new load replaces it, all or nothing)."""

    __tablename__ = "diagnosis"
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), unique=True)
    # The workshop's own region among the file's regions.
    region: Mapped[str] = mapped_column(sa.String(200))
    # Where the figures come from (the file's name unless given) and their year, if known.
    source: Mapped[str] = mapped_column(sa.String(300), default="")
    year: Mapped[int | None] = mapped_column(default=None)
    # {"regions": [name], "sectors": [[code, name]], "values": [[region_i, sector_i, value]]}
    # Deferred: the room's snapshots need the summary, and the indexes are cached per load.
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict, deferred=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(db.Model):
    __tablename__ = "comment"
    __table_args__ = (
        sa.UniqueConstraint("participant_id", "client_id", name="uq_comment_client"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domain.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"))
    stance: Mapped[str] = mapped_column(sa.String(10))
    text: Mapped[str] = mapped_column(sa.Text)
    client_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Hidden by the facilitator: out of every participant's and the projector's view and of
    # the exports' evidence; the JSON record keeps it, marked hidden.
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class SwotItem(db.Model):
    """A strength, weakness, opportunity or threat of a domain, with the author's helix."""

    __tablename__ = "swot_item"
    __table_args__ = (sa.UniqueConstraint("participant_id", "client_id", name="uq_swot_client"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domain.id"), index=True)
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("participant.id"), default=None)
    # strength | weakness | opportunity | threat
    quadrant: Mapped[str] = mapped_column(sa.String(12))
    text: Mapped[str] = mapped_column(sa.Text)
    helix: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    client_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Funding(db.Model):
    """A funder's signal on a domain: yes / maybe / no, and optionally an instrument."""

    __tablename__ = "funding"
    __table_args__ = (sa.UniqueConstraint("participant_id", "domain_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domain.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"))
    signal: Mapped[str] = mapped_column(sa.String(6))
    instrument: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Vote(db.Model):
    """Dot-voting points of one participant on one domain (absent row = 0 points)."""

    __tablename__ = "vote"
    __table_args__ = (sa.UniqueConstraint("participant_id", "domain_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"))
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domain.id"))
    points: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Score(db.Model):
    """One criterion value (1..5) of one participant for one domain."""

    __tablename__ = "score"
    __table_args__ = (sa.UniqueConstraint("participant_id", "domain_id", "criterion"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"))
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domain.id"))
    criterion: Mapped[str] = mapped_column(sa.String(40))
    value: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Ranking(db.Model):
    """A participant's whole ranking ballot (domain ids, best first)."""

    __tablename__ = "ranking"
    __table_args__ = (sa.UniqueConstraint("participant_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participant.id"))
    order: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Priority(db.Model):
    """A domain on the decided short list, with the facilitator's rationale."""

    __tablename__ = "priority"
    __table_args__ = (sa.UniqueConstraint("workshop_id", "domain_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domain.id"))
    rank: Mapped[int]
    rationale: Mapped[str] = mapped_column(sa.Text)
    # Strings, or {"name", "baseline", "target"} objects.
    indicators: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    # Funders or instruments mentioned for this priority.
    funders: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(db.Model):
    """Append-only record of every change, written in the same transaction as the change."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshop.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(20))
    actor_role: Mapped[str] = mapped_column(sa.String(12))  # participant | facilitator | system
    helix: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    participant_id: Mapped[int | None] = mapped_column(default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
