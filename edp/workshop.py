"""The rules of a workshop: phases, budgets, moderation, decisions.

Every change adds its `Event` row to the same session; the caller commits both together
(acked means durable). Rules raise `EDPError` with a machine code and a translatable message.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from . import analysis, i18n
from .extensions import db
from .models import (
    Comment,
    Domain,
    Event,
    Facilitator,
    Participant,
    Priority,
    Ranking,
    Score,
    Vote,
    Workshop,
    utcnow,
)

PHASES = ["lobby", "vision", "propose", "discuss", "vote", "results", "decide", "closed"]
METHODS = ["dot", "score", "rank"]
STANCES = ["support", "concern", "question", "evidence"]
LANGUAGES = i18n.LANGUAGES
MODERATION_ACTIONS = ["approve", "hide", "merge"]
# A domain's sectors of the diagnosis data (`moderate` with `sectors`; see `link`).
LINK_ACTION = "link"
# What the facilitator can do to a comment (`moderate` with a `comment_id`).
COMMENT_ACTIONS = ["hide", "restore"]
# Domain statuses a participant can see and vote on.
VOTABLE = ("approved",)

# Which phases accept which participant action (the facilitator may set any phase at any time).
PHASE_RULES = {
    "propose": ("propose", "discuss"),
    "comment": ("propose", "discuss", "vote"),
    "vote": ("vote",),
    "score": ("vote",),
    "rank": ("vote",),
    "decide": ("decide",),
    # The method beyond voting (edp/method.py).
    "statement": ("vision",),
    "react": ("vision",),
    "swot": ("propose", "discuss", "vote"),
    "fund": ("discuss", "vote", "results", "decide"),
}

# Join codes avoid look-alike characters (0/O, 1/I/L) so they can be read off a projector.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


class EDPError(Exception):
    """A refused action: `code` for machines, `message` (lazy, translated) for people."""

    def __init__(self, code: str, message: Any):
        super().__init__(code)
        self.code = code
        self.message = message


MESSAGES = {
    "wrong_phase": _l("That is not possible in the current phase."),
    "not_joined": _l("Join the workshop first."),
    "unknown_workshop": _l("There is no workshop with that code."),
    "bad_helix": _l("Pick one of the workshop's groups."),
    "bad_payload": _l("The request was not understood."),
    "forbidden": _l("Only the facilitator can do that."),
    "over_budget": _l("You do not have that many points left."),
    "over_cap": _l("That is more points than one domain may get."),
    "wrong_method": _l("This workshop does not vote that way."),
    "not_found": _l("That domain does not exist or is not open for this."),
    "rate_limited": _l("Too many actions at once; wait a moment."),
    "too_many_priorities": _l("The short list is already full."),
    "own_proposal": _l("You cannot vote for your own proposal in this workshop."),
    "ballots_exist": _l("Votes have been cast already; the method can no longer change."),
    "internal": _l("Something went wrong on our side; your last action was not saved."),
    "busy": _l("The server is busy right now and did not save that. Try again in a moment."),
    "too_many": _l("That is more than this workshop allows."),
    "joining_closed": _l("The facilitator has closed joining for this workshop."),
    "already_joined": _l("This connection has already joined; reload the page to join again."),
    "invite_required": _l("This workshop is by invitation: open the personal link you "
                          "received."),
}

# Floods (docs/operations.md): what a participant or a workshop may add, each refused with
# too_many and its own message. The defaults come from config.py; a template's [limits] table
# may lower them (never raise them).
CAPS = {
    "comments_per_participant": ("COMMENTS_PER_PARTICIPANT",
                                 _l("You have written as many comments as one person may "
                                    "in this workshop.")),
    "comments_per_workshop": ("COMMENTS_PER_WORKSHOP",
                              _l("This workshop has reached its limit of comments.")),
    "proposals_per_participant": ("PROPOSALS_PER_PARTICIPANT",
                                  _l("You have made as many proposals as one person may "
                                     "in this workshop.")),
    "proposals_per_workshop": ("PROPOSALS_PER_WORKSHOP",
                               _l("This workshop has reached its limit of proposals.")),
    "participants": ("PARTICIPANTS_PER_WORKSHOP", _l("This workshop is full.")),
    "statements_per_participant": ("STATEMENTS_PER_PARTICIPANT",
                                   _l("You have written as many vision statements as one "
                                      "person may in this workshop.")),
    "statements_per_workshop": ("STATEMENTS_PER_WORKSHOP",
                                _l("This workshop has reached its limit of vision statements.")),
    "swot_per_participant": ("SWOT_PER_PARTICIPANT",
                             _l("You have added as many SWOT items as one person may "
                                "in this workshop.")),
    "swot_per_workshop": ("SWOT_PER_WORKSHOP",
                          _l("This workshop has reached its limit of SWOT items.")),
}
JOINING = ("open", "closed")
# Who may join (a template's `join`): anyone with the code, or only personal invitations
# (edp/invitations.py); the first is the default.
JOIN_MODES = ("open", "invite")
# rate_limited on a join: many phones at once (the phone waits `retry_after` and tries again).
JOIN_BUSY = _l("Many people are joining right now; trying again in a few seconds.")


def fail(code: str) -> EDPError:
    return EDPError(code, MESSAGES[code])


def is_busy(exc: BaseException) -> bool:
    """A database error that only says another connection holds the lock (SQLite's "database
    is locked"): worth retrying a little later, and then `busy`, never `internal`."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database table is locked" in text


def cap(ws: Workshop, name: str) -> int | None:
    """The workshop's cap `name` (a CAPS key): the server's setting (0 = none), or the
    template's when lower; None when there is no cap."""
    setting, _message = CAPS[name]
    limit = int(current_app.config.get(setting) or 0) or None
    own = (ws.settings or {}).get("limits")  # an imported record may hold anything here
    own = own.get(name) if isinstance(own, dict) else None
    if type(own) is int and own >= 0 and (limit is None or own < limit):
        limit = own
    return limit


def check_cap(ws: Workshop, name: str, used: int) -> None:
    """Refuse with too_many once `used` has reached the cap."""
    limit = cap(ws, name)
    if limit is not None and used >= limit:
        raise EDPError("too_many", CAPS[name][1])


# ---------------------------------------------------------------- templates and creation


def load_template(path: str | Path) -> dict[str, Any]:
    """Read and check a workshop template (TOML)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    problems = []
    if not data.get("title"):
        problems.append("title is missing")
    if data.get("language", "en") not in LANGUAGES:
        problems.append(f"language must be one of {LANGUAGES}")
    if data.get("method", "dot") not in METHODS:
        problems.append(f"method must be one of {METHODS}")
    helices = data.get("helices") or []
    if (not isinstance(helices, list) or not helices
            or any(not isinstance(h, dict) or not h.get("key") or not _label_ok(h)
                   for h in helices)):
        problems.append("at least one [[helices]] with key and label is needed "
                        "(label: a string, or {en = ..., es = ..., pt = ...})")
    elif any(not isinstance(h.get("funder", False), bool) for h in helices):
        problems.append("a helix's funder must be true or false")
    criteria = data.get("criteria") or []
    for c in criteria if isinstance(criteria, list) else [None]:
        if (not isinstance(c, dict) or not c.get("key") or not _label_ok(c)
                or float(c.get("weight", 1)) <= 0):
            problems.append("every [[criteria]] needs key, label and a positive weight")
            break
    domains = data.get("domains") or []
    if not isinstance(domains, list) or any(
            not isinstance(d, dict) or not str(d.get("title", "")).strip() for d in domains):
        problems.append("every [[domains]] needs a title")
    if int(data.get("budget", 10)) < 1 or int(data.get("max_priorities", 5)) < 1:
        problems.append("budget and max_priorities must be at least 1")
    if data.get("join", "open") not in JOIN_MODES:
        problems.append(f"join must be one of {list(JOIN_MODES)}")
    if "min_group" in data and (type(data["min_group"]) is not int
                                or not 1 <= data["min_group"] <= 1000):
        problems.append("min_group must be a whole number from 1 to 1000 "
                        f"(below {analysis.MIN_GROUP} counts as {analysis.MIN_GROUP})")
    limits = data.get("limits") or {}
    if not isinstance(limits, dict) or any(
            k not in CAPS or type(v) is not int or v < 0 for k, v in limits.items()):
        problems.append(f"[limits] takes whole numbers >= 0 for {', '.join(CAPS)}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return data


def _label_ok(item: dict[str, Any]) -> bool:
    """A template label: a string, or a table of strings by language; `labels` (optional) adds
    translations beside a plain `label`."""
    label, labels = item.get("label"), item.get("labels", {})
    if isinstance(label, dict):
        if not label or not all(isinstance(v, str) and v.strip() for v in label.values()):
            return False
    elif not (isinstance(label, str) and label.strip()):
        return False
    return isinstance(labels, dict) and all(
        k in LANGUAGES and isinstance(v, str) and v.strip() for k, v in labels.items())


def labelled(item: dict[str, Any], language: str, written_in: str = "en") -> dict[str, Any]:
    """A helix or criterion as stored: `label` a plain string in the workshop's `language` when
    the template has it (the contract's `label`), and `labels` the translations by language.

    A template gives `label = "..."` (in `written_in`, the template's own language) plus,
    optionally, `labels = {es = "...", pt = "..."}`, or `label = {en = "...", es = "..."}`."""
    label = item["label"]
    labels = {k: str(v).strip() for k, v in (item.get("labels") or {}).items() if k in LANGUAGES}
    if isinstance(label, dict):
        given = {k: str(v).strip() for k, v in label.items() if k in LANGUAGES}
        labels = {**given, **labels}
        fallback = labels.get("en") or next(iter(str(v).strip() for v in label.values()))
    else:
        fallback = str(label).strip()
        labels.setdefault(written_in, fallback)
    out = {"key": str(item["key"]), "label": labels.get(language) or fallback}
    if item.get("funder") is True:  # a funding helix gives the funders' signal
        out["funder"] = True
    if set(labels) - {language} or not labels:
        out["labels"] = labels
    return out


def label_in(item: dict[str, Any] | None, language: str | None) -> str:
    """An item's label in `language` when the template translated it, else its `label`."""
    if not item:
        return ""
    return (item.get("labels") or {}).get(language or "") or item.get("label") or item.get("key", "")


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not db.session.scalar(sa.select(Workshop.id).where(Workshop.code == code)):
            return code


# The workshop's `anonymity` setting (settings["anonymity"]); the first is the default.
ANONYMITY = ("anonymous", "named")
# Payload keys that would identify a person; `record` drops them.
IDENTITY_KEYS = ("name", "organisation", "token", "email")


def create_workshop(
    template: dict[str, Any],
    facilitator: Facilitator,
    title: str | None = None,
    method: str | None = None,
    region: str | None = None,
    language: str | None = None,
) -> Workshop:
    """A workshop from a template; `region` and `language` (en, es, pt), when given, replace
    the template's (a template written in English can run a Spanish workshop)."""
    method = method or template.get("method", "dot")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    written_in = template.get("language", "en")
    language = language or written_in
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}")
    region = (region if region is not None else template.get("region", "")) or ""
    if len(region) > 200:
        raise ValueError("region: at most 200 characters")
    criteria = [
        {**labelled(c, language, written_in), "weight": float(c.get("weight", 1))}
        for c in template.get("criteria") or []
    ]
    if method == "score" and not criteria:
        raise ValueError("the score method needs [[criteria]] in the template")
    # How much identity the record and the exports may show: "anonymous" (helix only) or
    # "named" (names and organisations on comments and proposals in the exports).
    anonymity = template.get("anonymity") or (template.get("settings") or {}).get(
        "anonymity") or "anonymous"
    if anonymity not in ANONYMITY:
        raise ValueError(f"anonymity must be one of {list(ANONYMITY)}")
    ws = Workshop(
        code=new_code(),
        title=title or template["title"],
        region=region.strip(),
        language=language,
        method=method,
        budget=int(template.get("budget", 10)),
        cap=int(template["cap"]) if template.get("cap") else None,
        max_priorities=int(template.get("max_priorities", 5)),
        moderation=template.get("moderation", "post"),
        helices=[labelled(h, language, written_in) for h in template["helices"]],
        criteria=criteria,
        settings={
            "vote_own": bool(template.get("vote_own", True)),
            "description": template.get("description", ""),
            "anonymity": anonymity,
            # Small-group privacy (analysis.MIN_GROUP is the floor; see `min_group`).
            "min_group": max(analysis.MIN_GROUP, int(template.get("min_group") or 0)),
            # Lower caps than the server's (see CAPS); unknown keys are refused by load_template.
            "limits": {k: int(v) for k, v in (template.get("limits") or {}).items()},
            # "invite": only personal invitations get in (see JOIN_MODES).
            "join": template.get("join") or "open",
        },
        facilitator=facilitator,
    )
    db.session.add(ws)
    db.session.flush()
    record(ws, "workshop_created", "facilitator", title=ws.title, method=ws.method)
    for seed in template.get("domains") or []:
        d = Domain(
            workshop_id=ws.id,
            title=str(seed["title"])[:200],
            description=str(seed.get("description", "")),
            rationale=str(seed.get("rationale", "")),
            sdgs=[int(s) for s in seed.get("sdgs", []) if 1 <= int(s) <= 17],
            status="approved",
            seed=True,
        )
        db.session.add(d)
        db.session.flush()
        record(ws, "propose", "system", domain_id=d.id, title=d.title, seed=True,
               status=d.status, description=d.description, rationale=d.rationale, sdgs=d.sdgs)
    return ws


def record(
    ws: Workshop, kind: str, actor_role: str, participant: Participant | None = None, **payload
) -> Event:
    """Append one event to the deliberation record (committed with the change it describes).

    An event names its actor by role and helix only (and the participant's row id, which the
    exports turn into an anonymous reference): names, organisations and tokens never enter the
    record, whatever the workshop's anonymity setting."""
    if kind not in BALLOT_EVENTS:
        forget_state(ws.id)  # the next joiner must see this change
    ev = Event(**_event_fields(ws.id, kind, actor_role,
                               participant.helix if participant else None,
                               participant.id if participant else None, payload))
    db.session.add(ev)
    return ev


def _event_fields(workshop_id: int, kind: str, actor_role: str, helix: str | None,
                  participant_id: int | None, payload: dict[str, Any]) -> dict[str, Any]:
    """An Event row's columns (`record`, and `vote_batch` inserting many at once); identity
    keys never enter the payload."""
    for key in IDENTITY_KEYS:
        payload.pop(key, None)
    return {"workshop_id": workshop_id, "kind": kind, "actor_role": actor_role, "helix": helix,
            "participant_id": participant_id, "payload": payload, "at": utcnow()}


# ---------------------------------------------------------------- lookups


def workshop_by_code(code: str) -> Workshop:
    ws = db.session.scalar(sa.select(Workshop).where(Workshop.code == code.strip().upper()))
    if ws is None:
        raise fail("unknown_workshop")
    return ws


def join_mode(ws: Workshop) -> str:
    """"open" or "invite" (see JOIN_MODES)."""
    mode = (ws.settings or {}).get("join")
    return mode if mode in JOIN_MODES else "open"


def workshop_by_id(workshop_id: int) -> Workshop:
    ws = db.session.get(Workshop, workshop_id)
    if ws is None:
        raise fail("unknown_workshop")
    return ws


def require_phase(ws: Workshop, action: str) -> None:
    if ws.phase not in PHASE_RULES[action]:
        raise fail("wrong_phase")


def votable_domain(ws: Workshop, domain_id: int) -> Domain:
    d = db.session.get(Domain, domain_id)
    if d is None or d.workshop_id != ws.id or d.status not in VOTABLE:
        raise fail("not_found")
    return d


def _lock(participant: Participant) -> Participant:
    """Serialise one participant's ballot changes (a row lock on PostgreSQL; SQLite already
    serialises writers with BEGIN IMMEDIATE)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return participant
    return db.session.scalars(
        sa.select(Participant).where(Participant.id == participant.id).with_for_update()
    ).one()


# ---------------------------------------------------------------- participant actions


def join(
    code: str,
    helix: str | None,
    name: str = "",
    organisation: str = "",
    token: str | None = None,
    language: str = "",
    client_id: str | None = None,
    current: Participant | None = None,
    admit: Callable[[Workshop], None] | None = None,
    invite: str | None = None,
) -> tuple[Participant, bool]:
    """Join, or rejoin with a token from an earlier ack (the stored helix stands).

    A first join that carries a `client_id` (16+ characters) gets a token derived from it, so a
    retry whose ack was lost finds the same participant instead of creating a second one.
    `current` is the participant the connection already joined as: a join that would create
    another returns it instead (one connection, one participant). `admit(ws)` runs just
    before a participant is created (the caller's rate limits).

    `invite`, an invitation's token (edp/invitations.py), is one participant whatever token
    comes with it: its first join takes the organiser's helix, name and organisation, not the
    phone's. An unknown one, or none in a workshop by invitation, is `invite_required`."""
    ws = workshop_by_code(code)
    derived = join_token(ws.id, client_id)
    invitation = None
    if invite:
        from .invitations import admitted

        invitation, p = admitted(ws, invite)
        token, derived = (p.token if p else None), None  # its participant, not the phone's
        helix, name, organisation = invitation.helix, invitation.name, invitation.organisation
    for candidate in (token, derived):
        if not candidate:
            continue
        p = db.session.scalar(sa.select(Participant).where(Participant.token == candidate))
        if p is not None and p.workshop_id == ws.id:
            if language in LANGUAGES and language != p.language:
                p.language = language
            return p, False
    if current is not None and current.workshop_id == ws.id:
        return current, False
    if ws.phase == "closed":
        raise fail("wrong_phase")
    if ws.joining == "closed":
        raise fail("joining_closed")
    if invitation is None and join_mode(ws) == "invite":
        raise fail("invite_required")
    if helix not in ws.helix_keys():
        raise fail("bad_helix")
    check_cap(ws, "participants", db.session.scalar(
        sa.select(sa.func.count(Participant.id)).where(Participant.workshop_id == ws.id)))
    if admit is not None:
        admit(ws)
    p = Participant(
        workshop_id=ws.id,
        token=derived or secrets.token_urlsafe(24),
        helix=helix,
        name=name.strip(),
        organisation=organisation.strip(),
        language=language if language in LANGUAGES else "",
        invitation_id=invitation.id if invitation else None,
    )
    db.session.add(p)
    db.session.flush()
    record(ws, "join", "participant", p, **({"invited": True} if invitation else {}))
    return p, True


def propose(
    p: Participant, title: str, description: str = "", rationale: str = "", sdgs=(),
    client_id: str | None = None, admit: Callable[[], None] | None = None, sectors=(),
) -> Domain:
    """A participant's candidate domain. A `client_id` this participant used before returns
    that proposal unchanged, in any phase (a retry after a lost ack; see `replayed`)."""
    earlier = by_client_id(Domain, p, client_id)
    if earlier is not None:
        return earlier
    ws = workshop_by_id(p.workshop_id)
    require_phase(ws, "propose")
    title = title.strip()
    if not title:
        raise fail("bad_payload")
    from .evidence import check_codes

    sectors = check_codes(ws, list(sectors or ()))
    check_cap(ws, "proposals_per_participant", db.session.scalar(
        sa.select(sa.func.count(Domain.id)).where(Domain.participant_id == p.id)))
    check_cap(ws, "proposals_per_workshop", db.session.scalar(
        sa.select(sa.func.count(Domain.id)).where(Domain.workshop_id == ws.id,
                                                  Domain.participant_id.is_not(None))))
    if admit is not None:
        admit()
    d = Domain(
        workshop_id=ws.id,
        title=title,
        description=description.strip(),
        rationale=rationale.strip(),
        sdgs=sorted(set(sdgs)),
        status="pending" if ws.moderation == "pre" else "approved",
        participant_id=p.id,
        client_id=client_id or None,
        sectors=sectors,
    )
    db.session.add(d)
    db.session.flush()
    record(ws, "propose", "participant", p, domain_id=d.id, title=d.title, status=d.status,
           description=d.description, rationale=d.rationale, sdgs=d.sdgs,
           **({"sectors": sectors} if sectors else {}))
    return d


def comment(
    p: Participant, domain_id: int, stance: str, text: str, client_id: str | None = None,
    admit: Callable[[], None] | None = None,
) -> Comment:
    """A comment with a stance; a reused `client_id` returns the earlier one (as `propose`)."""
    earlier = by_client_id(Comment, p, client_id)
    if earlier is not None:
        return earlier
    ws = workshop_by_id(p.workshop_id)
    require_phase(ws, "comment")
    votable_domain(ws, domain_id)
    text = text.strip()
    if stance not in STANCES or not text:
        raise fail("bad_payload")
    check_cap(ws, "comments_per_participant", db.session.scalar(
        sa.select(sa.func.count(Comment.id)).where(Comment.participant_id == p.id)))
    check_cap(ws, "comments_per_workshop", db.session.scalar(
        sa.select(sa.func.count(Comment.id)).where(Comment.workshop_id == ws.id)))
    if admit is not None:
        admit()  # the rate limit, only for a comment that would be accepted
    c = Comment(workshop_id=ws.id, domain_id=domain_id, participant_id=p.id, stance=stance,
                text=text, client_id=client_id or None)
    db.session.add(c)
    db.session.flush()
    record(ws, "comment", "participant", p, comment_id=c.id, domain_id=domain_id, stance=stance,
           text=text)
    return c


def _ballot_rules(ws, d, participant_id: int, method: str) -> None:
    """May this participant put a `method` ballot on domain `d` (None: no such domain)? `ws`
    and `d` are rows or objects with the columns' names (`vote_batch` reads plain rows)."""
    require_phase(ws, method if method != "dot" else "vote")
    if ws.method != method:
        raise fail("wrong_method")
    if d is None or d.workshop_id != ws.id or d.status not in VOTABLE:
        raise fail("not_found")
    if not ws.settings.get("vote_own", True) and d.participant_id == participant_id:
        raise fail("own_proposal")


def _points_rules(ws, points: int, others: int) -> None:
    """Dot points on one domain, with `others` already on the rest of the ballot."""
    if points < 0:
        raise fail("bad_payload")
    if ws.cap and points > ws.cap:
        raise fail("over_cap")
    if others + points > ws.budget:
        raise fail("over_budget")


def _check_ballot(ws: Workshop, p: Participant, method: str, domain_id: int) -> Domain:
    d = db.session.get(Domain, domain_id)
    _ballot_rules(ws, d, p.id, method)
    return d


def spent_points(p: Participant, except_domain: int | None = None) -> int:
    q = sa.select(sa.func.coalesce(sa.func.sum(Vote.points), 0)).where(
        Vote.participant_id == p.id
    )
    if except_domain is not None:
        q = q.where(Vote.domain_id != except_domain)
    return int(db.session.scalar(q))


def vote(p: Participant, domain_id: int, points: int) -> int:
    """Set (not add) this participant's points on a domain; returns the points left."""
    ws = workshop_by_id(p.workshop_id)
    _check_ballot(ws, p, "dot", domain_id)
    p = _lock(p)
    # One read gives both the budget check and the row to change.
    mine = db.session.scalars(sa.select(Vote).where(Vote.participant_id == p.id)).all()
    row = next((v for v in mine if v.domain_id == domain_id), None)
    others = sum(v.points for v in mine if v.domain_id != domain_id)
    _points_rules(ws, points, others)
    before = row.points if row else 0
    if points == 0:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Vote(workshop_id=ws.id, participant_id=p.id, domain_id=domain_id, points=points))
    else:
        row.points = points
    if before != points:
        record(ws, "vote", "participant", p, domain_id=domain_id, points=points, before=before)
    return ws.budget - others - points


def vote_batch(items: list[tuple[int, int, int]]) -> list[int | EDPError]:
    """`vote` for many at once, in the current transaction: (participant id, domain id,
    points) in arrival order; per item the points left, or the EDPError that refused it (the
    others go ahead). The same rules and the same events as `vote` item by item, in the order
    given, with a fixed number of statements per batch instead of per vote (the group commit
    of `sockets.GroupCommit`). The caller commits, and acks nothing before that."""
    if not items:
        return []
    pids = sorted({pid for pid, _, _ in items})
    q = sa.select(Participant.id, Participant.workshop_id, Participant.helix).where(
        Participant.id.in_(pids)).order_by(Participant.id)
    if db.session.get_bind().dialect.name != "sqlite":
        q = q.with_for_update()  # one participant's ballot changes one at a time (see _lock)
    people = {row.id: row for row in db.session.execute(q)}
    workshops = {row.id: row for row in db.session.execute(
        sa.select(Workshop.id, Workshop.phase, Workshop.method, Workshop.budget, Workshop.cap,
                  Workshop.settings).where(
            Workshop.id.in_(sorted({row.workshop_id for row in people.values()}))))}
    domains = {row.id: row for row in db.session.execute(
        sa.select(Domain.id, Domain.workshop_id, Domain.status, Domain.participant_id).where(
            Domain.id.in_(sorted({did for _, did, _ in items}))))}
    ballots: dict[int, dict[int, int]] = {pid: {} for pid in people}
    ids: dict[tuple[int, int], int] = {}
    for row in db.session.execute(sa.select(Vote.id, Vote.participant_id, Vote.domain_id,
                                            Vote.points).where(Vote.participant_id.in_(pids))):
        ballots[row.participant_id][row.domain_id] = row.points
        ids[(row.participant_id, row.domain_id)] = row.id
    stored = {key: ballots[key[0]][key[1]] for key in ids}
    out: list[int | EDPError] = []
    events: list[dict[str, Any]] = []
    for pid, domain_id, points in items:
        p = people.get(pid)
        if p is None:
            out.append(fail("not_joined"))
            continue
        ws, mine = workshops[p.workshop_id], ballots[pid]
        others = sum(v for k, v in mine.items() if k != domain_id)
        try:
            _ballot_rules(ws, domains.get(domain_id), pid, "dot")
            _points_rules(ws, points, others)
        except EDPError as exc:
            out.append(exc)
            continue
        before = mine.get(domain_id, 0)
        if points:
            mine[domain_id] = points
        else:
            mine.pop(domain_id, None)
        if before != points:
            events.append(_event_fields(ws.id, "vote", "participant", p.helix, pid,
                                        {"domain_id": domain_id, "points": points,
                                         "before": before}))
        out.append(ws.budget - others - points)
    # What the batch leaves, against what was stored: one insert, update and delete for all.
    vote = Vote.__table__
    new, changed = [], []
    for pid, mine in ballots.items():
        wid = people[pid].workshop_id
        for domain_id, points in mine.items():
            key = (pid, domain_id)
            if key not in ids:
                new.append({"workshop_id": wid, "participant_id": pid, "domain_id": domain_id,
                            "points": points})
            elif stored[key] != points:
                changed.append({"vid": ids[key], "new_points": points})
    gone = [vid for key, vid in ids.items() if key[1] not in ballots[key[0]]]
    if gone:
        db.session.execute(vote.delete().where(vote.c.id.in_(gone)))
    if changed:
        db.session.execute(vote.update().where(vote.c.id == sa.bindparam("vid")).values(
            points=sa.bindparam("new_points")), changed)
    if new:
        db.session.execute(vote.insert(), new)
    if events:
        db.session.execute(Event.__table__.insert(), events)
    return out


def score(p: Participant, domain_id: int, criterion: str, value: int) -> None:
    score_many(p, domain_id, {criterion: value})


def score_many(p: Participant, domain_id: int, values: dict[str, int]) -> None:
    """Set this participant's values (1..5) for one domain on several criteria at once: one
    transaction and one ballot check for a whole card, one event per value that changed (the
    record and `edp workshop verify` read them as single scores). All or nothing: one unknown
    criterion or value out of range refuses the lot."""
    ws = workshop_by_id(p.workshop_id)
    _check_ballot(ws, p, "score", domain_id)
    keys = [c["key"] for c in ws.criteria]
    if not values or any(k not in keys or type(v) is not int or not 1 <= v <= 5
                         for k, v in values.items()):
        raise fail("bad_payload")
    p = _lock(p)
    rows = {r.criterion: r for r in db.session.scalars(
        sa.select(Score).where(Score.participant_id == p.id, Score.domain_id == domain_id))}
    for criterion in (k for k in keys if k in values):  # the template's order, every time
        value, row = values[criterion], rows.get(criterion)
        before = row.value if row else None
        if row is None:
            db.session.add(Score(workshop_id=ws.id, participant_id=p.id, domain_id=domain_id,
                                 criterion=criterion, value=value))
        else:
            row.value = value
        if before != value:
            record(ws, "score", "participant", p, domain_id=domain_id, criterion=criterion,
                   value=value, before=before)


def rank(p: Participant, order: list[int]) -> None:
    ws = workshop_by_id(p.workshop_id)
    require_phase(ws, "rank")
    if ws.method != "rank":
        raise fail("wrong_method")
    if len(set(order)) != len(order):
        raise fail("bad_payload")
    for domain_id in order:
        _check_ballot(ws, p, "rank", domain_id)
    p = _lock(p)
    row = db.session.scalar(sa.select(Ranking).where(Ranking.participant_id == p.id))
    before = row.order if row else None
    if row is None:
        db.session.add(Ranking(workshop_id=ws.id, participant_id=p.id, order=list(order)))
    else:
        row.order = list(order)
    if before != list(order):
        record(ws, "rank", "participant", p, order=list(order), before=before)


# ---------------------------------------------------------------- facilitator actions


def owned_workshop(workshop_id: int, facilitator: Facilitator | None) -> Workshop:
    ws = workshop_by_id(workshop_id)
    if facilitator is None or ws.facilitator_id != facilitator.id:
        raise fail("forbidden")
    return ws


def set_phase(ws: Workshop, phase: str, seconds: int | None = None) -> bool:
    """Returns True when the phase changed (entering `results` shows the results).

    `seconds` starts a countdown for the phase (0 clears it); phones and the projector show it,
    and nothing closes by itself: the facilitator stays in charge of moving on."""
    if phase not in PHASES:
        raise fail("bad_payload")
    if seconds is not None:
        ends = utcnow() + timedelta(seconds=seconds) if seconds > 0 else None
        if ends != ws.phase_ends_at:
            ws.phase_ends_at = ends
            record(ws, "timer", "facilitator", phase=phase, seconds=seconds)
    elif phase != ws.phase:
        ws.phase_ends_at = None
    if phase == ws.phase:
        return False
    before, ws.phase = ws.phase, phase
    record(ws, "phase", "facilitator", phase=phase, before=before)
    if phase == "results" and not ws.results_shown:
        ws.results_shown = True
        record(ws, "reveal", "facilitator", shown=True)
    return True


def set_joining(ws: Workshop, joining: str) -> None:
    """Open or close the workshop to new participants; rejoins with a token always work."""
    if joining not in JOINING:
        raise fail("bad_payload")
    if joining != ws.joining:
        record(ws, "joining", "facilitator", joining=joining, before=ws.joining)
        ws.joining = joining


def has_ballots(ws: Workshop) -> bool:
    return any(
        db.session.scalar(sa.select(model.id).where(model.workshop_id == ws.id).limit(1))
        for model in (Vote, Score, Ranking)
    )


def set_method(ws: Workshop, method: str) -> None:
    """Switch the voting method; only before the vote opens and before any ballot exists
    (ballots of another method would silently stop counting)."""
    if method not in METHODS:
        raise fail("bad_payload")
    if ws.phase in ("vote", "results", "decide", "closed"):
        raise fail("wrong_phase")
    if method != ws.method and has_ballots(ws):
        raise fail("ballots_exist")
    if method == "score" and not ws.criteria:
        raise fail("wrong_method")
    if method != ws.method:
        record(ws, "method", "facilitator", method=method, before=ws.method)
        ws.method = method


def moderate(
    ws: Workshop, domain_id: int, action: str, into: int | None = None
) -> tuple[Domain, set[int]]:
    """Approve, hide or merge a domain. Dot-voting points on a domain that leaves the ballot go
    back to the voters (hide) or move to the domain it merges into, each as a recorded event.
    Returns the domain and the ids of the participants whose ballot changed.

    The `moderate` event keeps the merge lineage: the status before, the target's title, and
    `lineage`, every domain that has become the target so far (directly or through earlier
    merges, as `{"domain_id", "into"}` pairs in id order), plus the dot points and ballots moved."""
    d = db.session.get(Domain, domain_id)
    if d is None or d.workshop_id != ws.id:
        raise fail("not_found")
    before, before_into = d.status, d.merged_into_id
    target = None
    if action == "approve":
        d.status, d.merged_into_id = "approved", None
    elif action == "hide":
        d.status = "hidden"
    elif action == "merge":
        target = db.session.get(Domain, into) if into is not None else None
        if target is None or target.workshop_id != ws.id or target.id == d.id:
            raise fail("not_found")
        if target.status != "approved":
            raise fail("not_found")
        d.status, d.merged_into_id = "merged", target.id
    else:
        raise fail("bad_payload")
    payload: dict[str, Any] = {"domain_id": d.id, "action": action, "into": into,
                               "title": d.title, "before": before}
    if before_into is not None and d.merged_into_id is None:
        payload["unmerged_from"] = before_into  # taken back out of the domain it had joined
    if action in ("hide", "merge"):
        points, ballots = db.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(Vote.points), 0), sa.func.count(Vote.id))
            .where(Vote.domain_id == d.id)
        ).one()
        payload["points_moved" if target is not None else "points_returned"] = int(points)
        payload["ballots_moved" if target is not None else "ballots_returned"] = int(ballots)
    if target is not None:
        db.session.flush()
        parent = dict(db.session.execute(
            sa.select(Domain.id, Domain.merged_into_id)
            .where(Domain.workshop_id == ws.id, Domain.merged_into_id.is_not(None))
        ).all())

        def reaches(did: int) -> bool:
            seen = set()
            while did in parent and did not in seen:
                seen.add(did)
                did = parent[did]
                if did == target.id:
                    return True
            return False

        payload["into_title"] = target.title
        # The merged proposal's sectors join the target's, so its evidence stays on the ballot.
        added = [c for c in d.sectors or [] if c not in (target.sectors or [])]
        added = added[:max(0, 20 - len(target.sectors or []))]
        if added:
            target.sectors = [*(target.sectors or []), *added]
            payload["sectors_added"] = added
        payload["lineage"] = [{"domain_id": did, "into": parent[did]}
                              for did in sorted(parent) if reaches(did)]
    ev = record(ws, "moderate", "facilitator", **payload)
    touched: set[int] = set()
    if action in ("hide", "merge"):
        touched, moved, returned = _move_points(ws, d, target)
        if target is not None:
            # What really moved: points above the target's cap went back to the budget.
            extra = {"points_returned": returned} if returned else {}
            ev.payload = {**payload, "points_moved": moved, **extra}
    return d, touched


def link(ws: Workshop, domain_id: int, sectors: list[str]) -> Domain:
    """The facilitator links a domain to sectors of the diagnosis data (replacing its earlier
    links; an empty list unlinks it). Recorded as a `link` event."""
    from .evidence import check_codes

    d = db.session.get(Domain, domain_id)
    if d is None or d.workshop_id != ws.id:
        raise fail("not_found")
    codes = check_codes(ws, list(sectors))
    before = list(d.sectors or [])
    d.sectors = codes
    record(ws, "link", "facilitator", domain_id=d.id, title=d.title, sectors=codes,
           before=before)
    return d


def _move_points(ws: Workshop, source: Domain,
                 target: Domain | None) -> tuple[set[int], int, int]:
    """Give back (hide) or move (merge) the dot points on `source`; one `vote` event per change,
    by the system, in the voter's helix, with the reason and the domain the points came from.
    Returns the voters touched, the points moved and the points returned to budgets (a merge
    returns those the target's cap cannot take; a hide returns them all)."""
    touched = set()
    moved = returned = 0
    rows = list(db.session.scalars(
        sa.select(Vote).where(Vote.domain_id == source.id).order_by(Vote.participant_id)
    ))
    for row in rows:
        p = db.session.get(Participant, row.participant_id)
        points = row.points
        db.session.delete(row)
        record(ws, "vote", "system", p, domain_id=source.id, points=0, before=points,
               reason="hidden" if target is None else "merged",
               **({"merged_into": target.id} if target is not None else {}))
        if target is not None:
            dest = db.session.scalar(
                sa.select(Vote).where(Vote.participant_id == p.id, Vote.domain_id == target.id)
            )
            before = dest.points if dest else 0
            # The per-domain cap holds after a merge too: what would go above it returns to
            # the participant's budget (and the event says how much).
            after = before + points if not ws.cap else min(ws.cap, before + points)
            extra = {"returned": before + points - after} if after < before + points else {}
            moved += after - before
            returned += before + points - after
            if after != before or extra:
                if dest is None:
                    db.session.add(Vote(workshop_id=ws.id, participant_id=p.id,
                                        domain_id=target.id, points=after))
                else:
                    dest.points = after
                record(ws, "vote", "system", p, domain_id=target.id, points=after,
                       before=before, reason="merged", merged_from=source.id, **extra)
        else:
            returned += points
        touched.add(p.id)
    db.session.flush()
    return touched, moved, returned


def decide(
    ws: Workshop,
    domain_id: int,
    rank_: int,
    rationale: str,
    indicators: list[Any] | None = None,
    funders: list[str] | None = None,
) -> Priority:
    """Record (or update) one priority. Ranks are unique: taking a rank that another priority
    holds moves that one down a place, as when reordering a list.

    `indicators`: strings, or `{"name", "baseline"?, "target"?}` objects (numbers are kept as
    text; empty baseline/target are left out). `funders`: the funders or instruments mentioned;
    None keeps those already recorded for this priority (a client that does not know the field
    cannot wipe them), a list replaces them."""
    require_phase(ws, "decide")
    d = db.session.get(Domain, domain_id)
    if d is None or d.workshop_id != ws.id or d.status != "approved":
        raise fail("not_found")
    if not isinstance(rationale, str):
        raise fail("bad_payload")
    rationale = rationale.strip()

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise fail("bad_payload")
        if isinstance(value, float):
            if not float("-inf") < value < float("inf"):  # NaN and infinities
                raise fail("bad_payload")
            return str(int(value)) if value.is_integer() else repr(value)
        return str(value).strip()

    def indicator(item: Any) -> Any:
        if isinstance(item, str):
            return item.strip() or None
        if not isinstance(item, dict):
            raise fail("bad_payload")
        name = text(item.get("name"))
        if not name:
            raise fail("bad_payload")
        out = {"name": name}
        for key in ("baseline", "target"):
            value = text(item.get(key))
            if value:
                out[key] = value
        return out

    if indicators is not None and not isinstance(indicators, list):
        raise fail("bad_payload")
    indicators = [i for i in (indicator(x) for x in indicators or []) if i is not None]
    if funders is not None:
        if not isinstance(funders, list) or not all(isinstance(f, str) for f in funders):
            raise fail("bad_payload")
        funders = list(dict.fromkeys(f.strip() for f in funders if f.strip()))
    if not rationale or rank_ < 1:
        raise fail("bad_payload")
    if rank_ > ws.max_priorities:
        raise fail("too_many_priorities")
    rows = list(db.session.scalars(
        sa.select(Priority).where(Priority.workshop_id == ws.id).order_by(Priority.rank)
    ))
    row = next((r for r in rows if r.domain_id == domain_id), None)
    if row is None and len(rows) >= ws.max_priorities:
        raise fail("too_many_priorities")
    previous = None
    if row is None:
        row = Priority(workshop_id=ws.id, domain_id=domain_id, rank=rank_, rationale=rationale,
                       indicators=indicators, funders=funders or [])
        db.session.add(row)
    else:
        previous = {"rank": row.rank, "rationale": row.rationale,
                    "indicators": list(row.indicators or []), "funders": list(row.funders or [])}
        row.rank, row.rationale, row.indicators = rank_, rationale, indicators
        if funders is not None:
            row.funders = funders
    others = [r for r in rows if r is not row]
    # Renumber the rest around the new rank: 1..n without gaps or ties.
    order = sorted(others, key=lambda r: r.rank)
    order.insert(min(rank_ - 1, len(order)), row)
    for position, r in enumerate(order, start=1):
        r.rank = position
    record(ws, "decide", "facilitator", domain_id=domain_id, rank=row.rank, rationale=rationale,
           indicators=indicators, funders=list(row.funders or []), title=d.title,
           before=previous, shortlist=[r.domain_id for r in order])
    return row


def undecide(ws: Workshop, domain_id: int) -> None:
    require_phase(ws, "decide")
    row = db.session.scalar(
        sa.select(Priority).where(Priority.workshop_id == ws.id, Priority.domain_id == domain_id)
    )
    if row is None:
        raise fail("not_found")
    db.session.delete(row)
    db.session.flush()
    rest = db.session.scalars(
        sa.select(Priority).where(Priority.workshop_id == ws.id).order_by(Priority.rank)
    )
    for position, r in enumerate(rest, start=1):
        r.rank = position
    record(ws, "undecide", "facilitator", domain_id=domain_id)


def moderate_comment(ws: Workshop, comment_id: int, action: str) -> Comment:
    """Hide a comment from the room (participants, projector, the exports' evidence) or
    restore it; the record keeps it either way, and the change is an event of its own."""
    if action not in COMMENT_ACTIONS:
        raise fail("bad_payload")
    c = db.session.get(Comment, comment_id)
    if c is None or c.workshop_id != ws.id:
        raise fail("not_found")
    hidden = action == "hide"
    if c.hidden != hidden:
        c.hidden = hidden
        record(ws, "moderate_comment", "facilitator", comment_id=c.id, domain_id=c.domain_id,
               action=action)
    return c


def reveal(ws: Workshop, shown: bool) -> None:
    if ws.results_shown != shown:
        ws.results_shown = shown
        record(ws, "reveal", "facilitator", shown=shown)


# ---------------------------------------------------------------- reading


def domains_of(ws: Workshop, statuses: tuple[str, ...] | None = None) -> list[Domain]:
    q = sa.select(Domain).where(Domain.workshop_id == ws.id).order_by(Domain.id)
    if statuses:
        q = q.where(Domain.status.in_(statuses))
    return list(db.session.scalars(q))


def _columns_frame(stmt, columns: list[str]) -> pd.DataFrame | None:
    """A select's rows as a frame, built column by column from a Core result: the score
    method's live results read every ballot several times a second, and the ORM's row
    processing and pandas' row-by-row construction were most of that time (60,000 values:
    see docs/performance.md, issue 19)."""
    rows = db.session.connection().execute(stmt).fetchall()
    return analysis.frame_of_rows(rows, columns) if rows else None


def ballot_frames(ws: Workshop) -> dict[str, pd.DataFrame]:
    """The workshop's ballots as the frames `analysis` works on."""
    frames = analysis.empty_frames()
    helix = Participant.helix
    votes = _columns_frame(
        sa.select(Vote.participant_id, helix, Vote.domain_id, Vote.points)
        .join(Participant, Participant.id == Vote.participant_id)
        .where(Vote.workshop_id == ws.id), analysis.VOTE_COLUMNS)
    if votes is not None:
        frames["votes"] = votes
    scores = _columns_frame(
        sa.select(Score.participant_id, helix, Score.domain_id, Score.criterion, Score.value)
        .join(Participant, Participant.id == Score.participant_id)
        .where(Score.workshop_id == ws.id), analysis.SCORE_COLUMNS)
    if scores is not None:
        frames["scores"] = scores
    rows = db.session.execute(
        sa.select(Ranking.participant_id, helix, Ranking.order)
        .join(Participant, Participant.id == Ranking.participant_id)
        .where(Ranking.workshop_id == ws.id)
    ).all()
    ranked = [
        (pid, hx, domain_id, pos)
        for pid, hx, order in rows
        for pos, domain_id in enumerate(order, start=1)
    ]
    if ranked:
        frames["rankings"] = pd.DataFrame(ranked, columns=analysis.RANK_COLUMNS)
    return frames


def min_group(ws: Workshop) -> int:
    """The smallest helix participants and the projector may see on its own: 3, or more when
    the template's `min_group` says so (never fewer: the contract's floor)."""
    try:
        asked = int((ws.settings or {}).get("min_group") or 0)
    except (TypeError, ValueError):
        asked = 0
    return max(analysis.MIN_GROUP, asked)


def compute_results(ws: Workshop, public: bool = False) -> dict[str, Any]:
    """The results with each ranking entry's funders' signal, `funding` {"yes", "maybe", "no"}
    (its own axis beside support; see edp/method.py)."""
    from .method import SIGNALS, funding_by_domain

    results = _compute_results(ws, public)
    funding = funding_by_domain(ws)
    for entry in results["ranking"]:
        f = funding.get(entry["domain_id"]) or {}
        entry["funding"] = {k: int(f.get(k, 0)) for k in SIGNALS}
    return results


def _compute_results(ws: Workshop, public: bool = False) -> dict[str, Any]:
    """The live results (the same numbers everywhere: console, projector, phones, exports).

    `public`: what participants and the projector may see, where a helix with fewer than
    `min_group(ws)` voters is pooled with the other small ones or left out (with its ballots,
    so nothing published lets anyone recover them); the facilitator and the exports get all.

    Dot voting, the default and the method of the biggest rooms, is summed by the database
    (`dot_totals`) rather than read ballot by ballot: 4.5 ms instead of 53 ms at 3,000
    participants. Scores and rankings need each ballot (weighted means, Schulze)."""
    votable = domains_of(ws, VOTABLE)
    domains = pd.DataFrame([(d.id, d.title) for d in votable], columns=["domain_id", "title"])
    # The public copy leaves the facilitator's presence warnings out (they name helices).
    present = None if public else helix_counts(ws)
    least = min_group(ws) if public else 0
    if ws.method == "dot" and not _has_other_ballots(ws):
        totals, found = dot_totals(ws, [d.id for d in votable])
        return analysis.dot_results_from_totals(domains, totals, found, ws.helix_keys(),
                                                present=present, min_group=least)
    frames = ballot_frames(ws)
    return analysis.results(
        ws.method,
        domains,
        frames["votes"],
        frames["scores"],
        frames["rankings"],
        ws.helix_keys(),
        {c["key"]: c["weight"] for c in ws.criteria},
        present=present,
        min_group=least,
    )


def public_results(ws: Workshop, full: dict[str, Any] | None = None) -> dict[str, Any]:
    """The participants' and the projector's results; `full` (this workshop's complete
    results, just computed) is reused as it is when no helix needs pooling."""
    if full is not None:
        least = min_group(ws)
        if not any(0 < n < least for n in (full.get("participation") or {}).values()):
            return {k: v for k, v in full.items() if k != "warnings"} | {"warnings": [
                w for w in full.get("warnings", []) if w.get("code") != "under_represented"]}
    return compute_results(ws, public=True)


def _has_other_ballots(ws: Workshop) -> bool:
    """Scores or rankings in a dot workshop (the method was changed before any vote): they
    count for participation, so the full computation is needed."""
    for model in (Score, Ranking):
        if db.session.scalar(sa.select(model.id).where(model.workshop_id == ws.id).limit(1)):
            return True
    return False


def dot_totals(ws: Workshop, domain_ids: list[int]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Per (domain, helix): points and participants with points; and per helix, the
    participants with points on any of `domain_ids` (see `analysis.dot_results_from_totals`)."""
    if not domain_ids:
        return pd.DataFrame(columns=["domain_id", "helix", "points", "voters"]), {}
    mine = sa.and_(Vote.workshop_id == ws.id, Vote.points > 0, Vote.domain_id.in_(domain_ids))
    rows = db.session.execute(
        sa.select(Vote.domain_id, Participant.helix, sa.func.sum(Vote.points),
                  sa.func.count(Vote.id))
        .join(Participant, Participant.id == Vote.participant_id)
        .where(mine)
        .group_by(Vote.domain_id, Participant.helix)
    ).all()
    found = db.session.execute(
        sa.select(Participant.helix, sa.func.count(sa.distinct(Vote.participant_id)))
        .join(Participant, Participant.id == Vote.participant_id)
        .where(mine)
        .group_by(Participant.helix)
    ).all()
    totals = pd.DataFrame(
        [(int(d), h, int(p), int(n)) for d, h, p, n in rows],
        columns=["domain_id", "helix", "points", "voters"],
    )
    return totals, {h: int(n) for h, n in found}


def helix_counts(ws: Workshop) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(Participant.helix, sa.func.count(Participant.id))
        .where(Participant.workshop_id == ws.id)
        .group_by(Participant.helix)
    ).all()
    counts = {h: 0 for h in ws.helix_keys()}
    counts.update({h: n for h, n in rows})
    return counts


def domain_dict(d: Domain, comments: int = 0) -> dict[str, Any]:
    return {
        "domain_id": d.id,
        "title": d.title,
        "description": d.description,
        "rationale": d.rationale,
        "sdgs": d.sdgs,
        "status": d.status,
        "seed": d.seed,
        "merged_into": d.merged_into_id,
        "comments": comments,
        "sectors": list(d.sectors or []),
    }


def workshop_dict(ws: Workshop) -> dict[str, Any]:
    return {
        "id": ws.id,
        "code": ws.code,
        "title": ws.title,
        "region": ws.region,
        "phase": ws.phase,
        "method": ws.method,
        "budget": ws.budget,
        "cap": ws.cap,
        "max_priorities": ws.max_priorities,
        "language": ws.language,
        "moderation": ws.moderation,
        "vote_own": ws.settings.get("vote_own", True),
        "results_shown": ws.results_shown,
        "joining": ws.joining or "open",
        "join": join_mode(ws),
        # The countdown, with the server's clock so phones with a wrong clock still count right.
        "phase_ends_at": ws.phase_ends_at.isoformat() + "Z" if ws.phase_ends_at else None,
        "server_time": utcnow().isoformat() + "Z",
        "helices": ws.helices,
        "criteria": ws.criteria,
    }


def comment_dict(c: Comment, helix: str, facilitator: bool = False) -> dict[str, Any]:
    """A comment as the room sees it: the stance, the text and the helix, never the author
    (the facilitator's copy also says whether it is hidden)."""
    item = {"comment_id": c.id, "domain_id": c.domain_id, "stance": c.stance, "text": c.text,
            "helix": helix, "at": c.created_at.isoformat() + "Z"}
    if facilitator:
        item["hidden"] = bool(c.hidden)
    return item


def voted_counts(ws: Workshop) -> dict[str, int]:
    """Per helix, the participants who have cast anything (a vote, a score or a ranking): the
    projector's "N of M have voted". One query per ballot table; a head count, no ballot."""
    voted: dict[str, set[int]] = {h: set() for h in ws.helix_keys()}
    for model in (Vote, Score, Ranking):
        rows = db.session.execute(
            sa.select(Participant.helix, model.participant_id).distinct()
            .join(Participant, Participant.id == model.participant_id)
            .where(model.workshop_id == ws.id)
        ).all()
        for hx, pid in rows:
            voted.setdefault(hx, set()).add(pid)
    return {h: len(ids) for h, ids in voted.items()}


def counts_payload(ws: Workshop) -> dict[str, Any]:
    """Who is here and who has voted, by helix (the `counts` broadcast and part of `state`)."""
    counts = helix_counts(ws)
    voted = voted_counts(ws)
    return {"counts": counts, "total": sum(counts.values()),
            "voted": voted, "voted_total": sum(voted.values())}


# Near-duplicate hints for the facilitator: token-set similarity of accent-folded titles (and
# descriptions, weighted less) at or above this score (0..100).
SIMILAR_AT = 70


def similar_domains(domains: list[Domain]) -> dict[int, list[dict[str, Any]]]:
    """For each pending or approved domain, the others it probably repeats, best first."""
    from rapidfuzz import fuzz, process

    from .pairing import normalise

    open_ = [d for d in domains if d.status in ("pending", "approved")]
    if len(open_) < 2:
        return {}
    titles = [normalise(d.title) for d in open_]
    texts = [normalise(f"{d.title} {d.description}") for d in open_]
    by_title = process.cdist(titles, titles, scorer=fuzz.token_sort_ratio, workers=1)
    by_text = process.cdist(texts, texts, scorer=fuzz.token_set_ratio, workers=1)
    hints: dict[int, list[dict[str, Any]]] = {}
    for i, d in enumerate(open_):
        found = []
        for j, other in enumerate(open_):
            if i == j or not titles[i] or not titles[j]:
                continue
            score = max(float(by_title[i][j]), 0.9 * float(by_text[i][j]))
            if score >= SIMILAR_AT:
                found.append({"domain_id": other.id, "title": other.title,
                              "score": round(score)})
        if found:
            found.sort(key=lambda x: (-x["score"], x["domain_id"]))
            hints[d.id] = found[:3]
    return hints


def public_state(ws: Workshop, facilitator: bool = False,
                 comments: bool = True) -> dict[str, Any]:
    """The snapshot everyone in the room gets; the facilitator's adds hidden domains and results.

    It stays small however long the discussion: only the newest comments (STATE_COMMENTS, and
    at most STATE_COMMENTS_CHARS characters of text) with `comments_more` when there are older
    ones, plus each domain's count; the `comments` event pages through a domain's comments.
    `comments=False` leaves the comments out altogether (the room's broadcasts: clients keep
    what they loaded and get one `comment` event each); `comments_upto`, the newest comment id
    counted, tells a client which of its comments the snapshot already counts."""
    statuses = None if facilitator else VOTABLE
    domains = domains_of(ws, statuses)
    visible = {d.id for d in domains}
    per_domain: dict[int, int] = {}
    hidden_per_domain: dict[int, int] = {}
    for did, is_hidden, n in db.session.execute(
        sa.select(Comment.domain_id, Comment.hidden, sa.func.count(Comment.id))
        .where(Comment.workshop_id == ws.id)
        .group_by(Comment.domain_id, Comment.hidden)
    ).all():
        if did in visible:  # a hidden comment is out of the room's view and of its counts
            (hidden_per_domain if is_hidden else per_domain)[did] = int(n)
    hidden_ids = [cid for cid, did in db.session.execute(
        sa.select(Comment.id, Comment.domain_id)
        .where(Comment.workshop_id == ws.id, Comment.hidden.is_(True)).order_by(Comment.id)
    ).all() if did in visible]
    upto = db.session.scalar(
        sa.select(sa.func.max(Comment.id)).where(Comment.workshop_id == ws.id)) or 0
    titles = {d.id: d.title for d in domains_of(ws)}
    priorities = [
        {"domain_id": pr.domain_id, "title": titles.get(pr.domain_id, ""), "rank": pr.rank,
         "rationale": pr.rationale, "indicators": pr.indicators,
         "funders": pr.funders}
        for pr in db.session.scalars(
            sa.select(Priority).where(Priority.workshop_id == ws.id).order_by(Priority.rank)
        )
    ]
    domain_items = [domain_dict(d, per_domain.get(d.id, 0)) for d in domains]
    _method_parts(ws, domain_items, facilitator)
    diagnosis = _evidence_parts(ws, domain_items)
    if facilitator:
        for item in domain_items:
            item["hidden_comments"] = hidden_per_domain.get(item["domain_id"], 0)
        hints = similar_domains(domains)
        proposers = dict(db.session.execute(
            sa.select(Participant.id, Participant.helix)
            .where(Participant.workshop_id == ws.id,
                   Participant.id.in_({d.participant_id for d in domains if d.participant_id}))
        ).all())
        for item, d in zip(domain_items, domains):
            item["similar"] = hints.get(d.id, [])
            item["helix"] = proposers.get(d.participant_id)
            item["created_at"] = d.created_at.isoformat() + "Z"
    from .method import vision_summary

    state = {
        "workshop": {**workshop_dict(ws), "diagnosis": diagnosis},
        "domains": domain_items,
        # The shared vision: statements with their reactions, broadest agreement first.
        "vision": vision_summary(ws, facilitator),
        "comments_upto": upto,
        # Comments the facilitator hid: a client drops the copies it kept (see socket.js).
        "hidden_comments": hidden_ids,
        **counts_payload(ws),
        "priorities": priorities,
        "results": (compute_results(ws) if facilitator
                    else public_results(ws) if ws.results_shown else None),
    }
    if comments:
        state["comments"], state["comments_more"] = comments_page(
            ws, facilitator, limit=int(current_app.config.get("STATE_COMMENTS", 50)),
            chars=int(current_app.config.get("STATE_COMMENTS_CHARS", 0)) or None,
            visible=visible)
    if facilitator:
        state["facilitator"] = True
        from .invitations import summary

        # Invitees who joined, and walk-ins apart (by helix too).
        state["invited"] = summary(ws)
    return state


def _method_parts(ws: Workshop, items: list[dict[str, Any]], facilitator: bool) -> None:
    """Each domain's SWOT items (`swot`) and funders' signal (`funding`), in place."""
    from .method import empty_funding, funding_by_domain, swot_by_domain

    swot = swot_by_domain(ws, facilitator)
    funding = funding_by_domain(ws)
    for item in items:
        item["swot"] = swot.get(item["domain_id"], [])
        item["funding"] = funding.get(item["domain_id"]) or empty_funding()


def _evidence_parts(ws: Workshop, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Each linked domain's evidence from the diagnosis data (`evidence`, None when it has no
    sectors), in place; returns the diagnosis' summary (`state.workshop.diagnosis`)."""
    from .evidence import diagnosis_of, evidence_for, summary

    diag = diagnosis_of(ws)
    for item in items:
        item["evidence"] = evidence_for(ws, item["sectors"], diag) if diag else None
    return summary(ws, diag) if diag is not None else None


def comments_page(
    ws: Workshop, facilitator: bool = False, domain_id: int | None = None,
    before: int | None = None, limit: int = 50, chars: int | None = None,
    visible: set[int] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The newest comments (of one domain, older than `before`), oldest first, and whether
    there are older ones. The room sees visible comments on approved domains; the facilitator
    every comment, marked hidden or not. `chars` bounds the text carried (at least one)."""
    query = (sa.select(Comment, Participant.helix)
             .join(Participant, Participant.id == Comment.participant_id)
             .where(Comment.workshop_id == ws.id))
    if not facilitator:
        if visible is None:
            visible = {d.id for d in domains_of(ws, VOTABLE)}
        query = query.where(Comment.hidden.is_(False), Comment.domain_id.in_(visible))
    if domain_id is not None:
        query = query.where(Comment.domain_id == domain_id)
    if before is not None:
        query = query.where(Comment.id < before)
    rows = db.session.execute(query.order_by(Comment.id.desc()).limit(max(1, limit) + 1)).all()
    more = len(rows) > limit
    items: list[dict[str, Any]] = []
    used = 0
    for c, hx in rows[:limit]:
        if chars is not None and items and used + len(c.text) > chars:
            more = True
            break
        used += len(c.text)
        items.append(comment_dict(c, hx, facilitator))
    items.reverse()
    return items, more


def my_ballot(p: Participant, ws: Workshop, new: bool = False) -> dict[str, Any]:
    """What this participant has cast (only ever sent to that participant); `new`: a
    participant created in this very transaction, who has cast nothing (no queries)."""
    from .method import is_funder, my_funding, my_reactions

    if new:
        return {"participant_id": p.id, "helix": p.helix, "name": p.name,
                "language": p.language or ws.language, "votes": {}, "remaining": ws.budget,
                "scores": {}, "ranking": [], "proposed": [], "proposals": [],
                "reactions": {}, "funder": is_funder(ws, p.helix), "funding": {},
                "invited": p.invitation_id is not None}
    votes = {
        str(v.domain_id): v.points
        for v in db.session.scalars(sa.select(Vote).where(Vote.participant_id == p.id))
    }
    scores: dict[str, dict[str, int]] = {}
    for s in db.session.scalars(sa.select(Score).where(Score.participant_id == p.id)):
        scores.setdefault(str(s.domain_id), {})[s.criterion] = s.value
    ranking = db.session.scalar(sa.select(Ranking.order).where(Ranking.participant_id == p.id))
    own = list(db.session.scalars(
        sa.select(Domain).where(Domain.participant_id == p.id).order_by(Domain.id)
    ))
    into = {d.merged_into_id for d in own if d.merged_into_id}
    into_titles = dict(db.session.execute(
        sa.select(Domain.id, Domain.title).where(Domain.id.in_(into))).all()) if into else {}
    return {
        "participant_id": p.id,
        "helix": p.helix,
        "name": p.name,
        "language": p.language or ws.language,
        "votes": votes,
        "remaining": ws.budget - sum(votes.values()),
        "scores": scores,
        "ranking": ranking or [],
        "proposed": [d.id for d in own],
        # The vision reactions and, for a funding helix, the funders' signals given.
        "reactions": my_reactions(p),
        "funder": is_funder(ws, p.helix),
        "funding": my_funding(p),
        "invited": p.invitation_id is not None,
        # What became of each of this participant's proposals (merged into what, hidden).
        "proposals": [{"domain_id": d.id, "title": d.title, "status": d.status,
                       "merged_into": d.merged_into_id,
                       "merged_into_title": into_titles.get(d.merged_into_id)}
                      for d in own],
    }


# The public part of the join ack, per workshop: (made at, phase and settings it was made
# for, state). Everyone joining gets the same snapshot, and at 3,000 phones building it for each
# join (comments, priorities, results) would cost more than the join itself.
_state_cache: dict[int, tuple[float, tuple, dict[str, Any]]] = {}
# Events that change no part of the public snapshot but the results and counts (which a
# cached snapshot refreshes or may show up to a second late).
BALLOT_EVENTS = ("join", "vote", "score", "rank", "react")
STATE_CACHE_SECONDS = 1.0


def forget_state(workshop_id: int) -> None:
    """Drop the cached join snapshot (after a change that the next joiner must see)."""
    _state_cache.pop(workshop_id, None)


def participant_state(p: Participant, new: bool = False) -> dict[str, Any]:
    """The join ack's state: the public snapshot (cached up to a second, and never across a
    change of phase, method or reveal) with fresh counts and the participant's own ballot."""
    ws = workshop_by_id(p.workshop_id)
    key = (ws.code, ws.created_at, ws.phase, ws.method, ws.results_shown, ws.phase_ends_at,
           ws.budget)
    now = time.monotonic()
    hit = _state_cache.get(ws.id)
    if hit is not None and hit[1] == key and now - hit[0] < STATE_CACHE_SECONDS:
        state = dict(hit[2])
        state["workshop"] = {**workshop_dict(ws), "diagnosis": hit[2]["workshop"]["diagnosis"]}
        counts = helix_counts(ws)  # who voted may be up to a second old; joins are fresh
        state["counts"], state["total"] = counts, sum(counts.values())
    else:
        state = public_state(ws)
        _state_cache[ws.id] = (now, key, state)
        state = dict(state)
    state["me"] = my_ballot(p, ws, new)
    return state


# ---------------------------------------------------------------- idempotent client actions

# A client id shorter than this is not secret enough to derive a participant's token from.
JOIN_CLIENT_ID_MIN = 16


def join_token(workshop_id: int, client_id: str | None) -> str | None:
    """The token of the participant a first `join` with this client id creates: an HMAC under
    the secret key, so nobody can compute it without knowing the (random) client id."""
    if not client_id or len(client_id) < JOIN_CLIENT_ID_MIN:
        return None
    key = str(current_app.config["SECRET_KEY"]).encode()
    mac = hmac.new(key, f"join:{workshop_id}:{client_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def by_client_id(model, p: Participant, client_id: str | None):
    """This participant's earlier row with this client id, marked as `replayed`, or None."""
    if not client_id:
        return None
    row = db.session.scalar(
        sa.select(model).where(model.participant_id == p.id, model.client_id == client_id)
    )
    if row is not None:
        row._edp_replayed = True
    return row


def replayed(row) -> bool:
    """True when `propose`/`comment` returned an earlier row for a reused client id: nothing
    changed, so there is nothing to broadcast."""
    return bool(getattr(row, "_edp_replayed", False))
