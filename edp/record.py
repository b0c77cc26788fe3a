"""Import a workshop's JSON record (the `json` export) as a new workshop, and compare records.

A later round of a continuous EDP, or another region pairing with this one, runs
`edp workshop import FILE`: the workshop comes back with a new id and join code, and everything
else as recorded: its settings and phase, the domains with their statuses and merge lineage,
the participants as anonymous references with their helix (names and organisations only when
the record is "named" and carries them on comments or proposals), the comments, the ballots
(votes, scores, rankings), the priorities with indicators and funders, the vision statements
with every reaction, each domain's SWOT items and the funders' signals, and the whole event log
with its original times. Database ids inside event payloads are translated to the new ones, so
the imported log replays (`edp.replay`) to the same results.

Nothing new is added to the event log by an import, so the imported workshop exports the same
record again: `canonical(a) == canonical(b)` for a record `a` and the export `b` of its import
(ids are replaced by their position in the record, and the export time, the workshop's id and
its code are left out).
"""
from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import workshop as rules
from .extensions import db
from .models import (
    Comment,
    Domain,
    Event,
    Facilitator,
    Funding,
    Participant,
    Priority,
    Ranking,
    Reaction,
    Score,
    Statement,
    SwotItem,
    Vote,
    Workshop,
)

RECORD_FORMAT = "edp-live-record"
SUPPORTED_VERSIONS = (1, 2, 3)
STATUSES = ("pending", "approved", "hidden", "merged")

# Event payload keys that hold a domain id, a list of domain ids, a comment id, a vision
# statement's id or a SWOT item's id.
DOMAIN_KEYS = ("domain_id", "into", "merged_from", "merged_into", "unmerged_from")
DOMAIN_LIST_KEYS = ("shortlist",)
COMMENT_KEYS = ("comment_id",)
STATEMENT_KEYS = ("statement_id",)
SWOT_KEYS = ("item_id",)


class RecordError(ValueError):
    """The file is not a record this version can import (the message says why). `path` names
    the field at fault (`events[12].payload.points`) when there is one."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(f"{path}: {message}" if path else message)
        self.path, self.problem = path, message

    def __reduce__(self):
        return type(self), (self.problem, self.path)


class RecordTooLarge(RecordError):
    """The record holds more of something than this server accepts (`limit` names the setting,
    `count` how many the record holds)."""

    def __init__(self, what: str, count: int, limit: int, setting: str):
        super().__init__(f"{count} {what}, more than the {limit} this server accepts ({setting})",
                         what)
        self.what, self.count, self.limit, self.setting = what, count, limit, setting

    def __reduce__(self):
        return type(self), (self.what, self.count, self.limit, self.setting)


# What one import may hold (config RECORD_MAX_*, env EDP_RECORD_MAX_*): the largest real
# workshops (3,000 participants) stay well inside; the import runs in a worker process, but a
# record far beyond them would still hold a worker (and the database) for minutes.
RECORD_LIMITS = {
    "events": ("RECORD_MAX_EVENTS", 300_000),
    "participants": ("RECORD_MAX_PARTICIPANTS", 10_000),
    "domains": ("RECORD_MAX_DOMAINS", 5_000),
    "comments": ("RECORD_MAX_COMMENTS", 100_000),
}


# ---------------------------------------------------------------- reading


def load(source: str | Path | bytes) -> dict[str, Any]:
    """Parse a record from a path or bytes and check its format and version."""
    try:
        raw = source if isinstance(source, bytes) else Path(source).read_bytes()
        data = json.loads(raw.decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"not a readable JSON record: {exc}") from exc
    except RecursionError:
        raise RecordError("not a readable JSON record: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal of thousands of digits
        raise RecordError(f"not a readable JSON record: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise RecordError(f"not an EDP Live record (format must be {RECORD_FORMAT!r})")
    if data.get("version") not in SUPPORTED_VERSIONS:
        raise RecordError(f"record version {data.get('version')!r} is not supported "
                          f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})")
    return data


def _limits() -> dict[str, tuple[str, int]]:
    from flask import current_app, has_app_context

    config = current_app.config if has_app_context() else {}
    return {what: (f"EDP_{name}", int(config.get(name) or default))
            for what, (name, default) in RECORD_LIMITS.items()}


def validate(record: Any) -> None:
    """Refuse a record beyond this server's limits (`RecordTooLarge`) or one that breaks
    `docs/record.schema.json` (`RecordError` naming the field)."""
    from .record_schema import first_error

    if isinstance(record, dict):
        for what, (setting, limit) in _limits().items():
            items = record.get(what)
            if isinstance(items, list | dict) and len(items) > limit:
                raise RecordTooLarge(what, len(items), limit, setting)
    problem = first_error(record)
    if problem:
        raise RecordError(problem[1], problem[0])


def _time(value: Any) -> datetime | None:
    """ISO 8601 (with or without Z) -> naive UTC, as the database stores times."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))  # Python 3.11 reads a trailing Z
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


# ---------------------------------------------------------------- ids


def _labels(item: dict[str, Any]) -> dict[str, Any]:
    """A helix's or criterion's translated labels, when the record has them."""
    labels = item.get("labels")
    if not isinstance(labels, dict):
        return {}
    kept = {str(k): str(v) for k, v in labels.items() if k in rules.LANGUAGES and v}
    return {"labels": kept} if kept else {}


def _same(value: Any) -> Any:
    return value


def remap_payload(kind: str, payload: dict[str, Any], domain: Callable[[Any], Any],
                  comment: Callable[[Any], Any], statement: Callable[[Any], Any] = _same,
                  swot: Callable[[Any], Any] = _same) -> dict[str, Any]:
    """An event payload with its domain, comment, statement and SWOT item ids passed through
    `domain`, `comment`, `statement` and `swot`."""
    out = dict(payload or {})
    for key in DOMAIN_KEYS:
        if out.get(key) is not None:
            out[key] = domain(out[key])
    for key in DOMAIN_LIST_KEYS:
        if isinstance(out.get(key), list):
            out[key] = [domain(x) for x in out[key]]
    if kind == "rank":
        for key in ("order", "before"):
            if isinstance(out.get(key), list):
                out[key] = [domain(x) for x in out[key]]
    if isinstance(out.get("lineage"), list):
        out["lineage"] = [
            {**x, **{k: domain(x[k]) for k in ("domain_id", "into") if x.get(k) is not None}}
            if isinstance(x, dict) else domain(x)
            for x in out["lineage"]
        ]
    for keys, mapper in ((COMMENT_KEYS, comment), (STATEMENT_KEYS, statement),
                         (SWOT_KEYS, swot)):
        for key in keys:
            if out.get(key) is not None:
                out[key] = mapper(out[key])
    return out


def _lookup(mapping: dict[Any, Any]) -> Callable[[Any], Any]:
    def get(value: Any) -> Any:
        try:
            return mapping.get(int(value), value)
        except (TypeError, ValueError):
            return value

    return get


def canonical(record: dict[str, Any]) -> dict[str, Any]:
    """The record without what differs between two exports of the same deliberation: the
    export time, the workshop's id and code, and database ids (domains become "d1", "d2"...,
    comments "c1"..., vision statements "s1"..., SWOT items "i1"..., events "e1"... in the
    record's order). A `server_time` in the workshop (a
    live clock some versions wrote) is left out as well."""
    r = copy.deepcopy(record)
    r.pop("exported_at", None)
    for key in ("id", "code", "server_time"):
        r.get("workshop", {}).pop(key, None)
    dmap = {int(d["domain_id"]): f"d{n}" for n, d in enumerate(r.get("domains", []), 1)}
    cmap = {int(c["comment_id"]): f"c{n}" for n, c in enumerate(r.get("comments", []), 1)}
    smap = {int(s["statement_id"]): f"s{n}" for n, s in enumerate(r.get("vision", []), 1)}
    imap = {int(i["item_id"]): f"i{n}" for n, i in enumerate(
        (i for d in r.get("domains", []) for i in d.get("swot") or [] if "item_id" in i), 1)}
    dom, com, stm, swo = _lookup(dmap), _lookup(cmap), _lookup(smap), _lookup(imap)
    for s in r.get("vision", []):
        s["statement_id"] = stm(s["statement_id"])
    for entry in r.get("reactions", {}).values():
        entry["statements"] = {stm(k): v for k, v in entry.get("statements", {}).items()}
    for entry in r.get("funding", {}).values():
        entry["signals"] = {dom(k): v for k, v in entry.get("signals", {}).items()}
    for d in r.get("domains", []):
        for i in d.get("swot") or []:
            if "item_id" in i:
                i["item_id"] = swo(i["item_id"])
        d["domain_id"] = dom(d["domain_id"])
        if d.get("merged_into") is not None:
            d["merged_into"] = dom(d["merged_into"])
        for x in d.get("lineage", []):
            x["domain_id"], x["into"] = dom(x["domain_id"]), dom(x["into"])
    for c in r.get("comments", []):
        c["comment_id"], c["domain_id"] = com(c["comment_id"]), dom(c["domain_id"])
    for entry in r.get("votes", {}).values():
        entry["points"] = {dom(k): v for k, v in entry.get("points", {}).items()}
    for entry in r.get("scores", {}).values():
        entry["values"] = {dom(k): v for k, v in entry.get("values", {}).items()}
    for entry in r.get("rankings", {}).values():
        entry["order"] = [dom(x) for x in entry.get("order", [])]
    for p in r.get("priorities", []):
        p["domain_id"] = dom(p["domain_id"])
        evidence = p.get("evidence") or {}
        for key in ("supporting", "opposing"):
            if key in evidence:
                evidence[key] = [com(x) for x in evidence[key]]
        for stance, ids in (evidence.get("by_stance") or {}).items():
            evidence["by_stance"][stance] = [com(x) for x in ids]
        for w in evidence.get("warnings", []):
            if "domain_id" in w:
                w["domain_id"] = dom(w["domain_id"])
    results = r.get("results") or {}
    for e in results.get("ranking", []):
        e["domain_id"] = dom(e["domain_id"])
    if "schulze" in results:
        results["schulze"] = [dom(x) for x in results["schulze"]]
    for w in results.get("warnings", []):
        if "domain_id" in w:
            w["domain_id"] = dom(w["domain_id"])
    for n, e in enumerate(r.get("events", []), 1):
        e["id"] = f"e{n}"
        e["payload"] = remap_payload(e.get("kind", ""), e.get("payload") or {}, dom, com,
                                     stm, swo)
    return r


# ---------------------------------------------------------------- import


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise RecordError(f"{what}: not a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RecordError(f"{what}: not a number ({value!r})") from None


def import_record(record: dict[str, Any], facilitator: Facilitator,
                  checked: bool = False) -> Workshop:
    """Recreate the recorded workshop for `facilitator` (new id and join code). Adds the rows to
    the session; the caller commits (or rolls back: a bad record leaves nothing behind).
    `checked`: `validate(record)` has already passed."""
    if not checked:
        validate(record)
    try:
        return _import(record, facilitator)
    except RecordError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise RecordError(f"the record is incomplete or inconsistent: {exc!r}") from exc
    except sa.exc.SQLAlchemyError as exc:  # a constraint the checks above did not foresee
        cause = getattr(exc, "orig", None) or exc
        raise RecordError(f"the record is inconsistent: {type(cause).__name__}") from exc


def _import(record: dict[str, Any], facilitator: Facilitator) -> Workshop:
    """Create the rows in dependency order; each step remaps the recorded ids to the new ones."""
    if record.get("format") != RECORD_FORMAT or record.get("version") not in SUPPORTED_VERSIONS:
        raise RecordError("not a supported EDP Live record")
    importer = _Importer(record, _workshop_row(record["workshop"], facilitator))
    importer.participants()
    importer.statements()
    importer.domains()
    importer.diagnosis()
    importer.comments()
    importer.swot()
    importer.ballots()
    importer.reactions()
    importer.funding()
    importer.priorities()
    importer.events()
    db.session.flush()
    return importer.ws


def _workshop_row(w: dict[str, Any], facilitator: Facilitator) -> Workshop:
    """The workshop itself (a new id and join code), flushed so that rows can refer to it."""
    helices = [{"key": str(h["key"]), "label": str(h["label"]), **_labels(h),
                **({"funder": True} if h.get("funder") is True else {})}
               for h in w["helices"]]
    if not helices:
        raise RecordError("the workshop has no helices")
    criteria = [{"key": str(c["key"]), "label": str(c["label"]), **_labels(c),
                 "weight": float(c["weight"])}
                for c in w.get("criteria") or []]
    for key, allowed in (("method", rules.METHODS), ("language", rules.LANGUAGES),
                         ("phase", rules.PHASES)):
        if w.get(key) not in allowed:
            raise RecordError(f"workshop {key} must be one of {list(allowed)}")
    settings = dict(w.get("settings") or {})
    settings.setdefault("vote_own", bool(w.get("vote_own", True)))
    settings.setdefault("description", w.get("description", ""))
    if settings.get("anonymity", "anonymous") not in rules.ANONYMITY:
        raise RecordError(f"anonymity must be one of {list(rules.ANONYMITY)}")
    ws = Workshop(
        code=rules.new_code(),
        title=str(w["title"])[:200],
        region=str(w.get("region") or "")[:200],
        language=w["language"],
        method=w["method"],
        budget=_int(w.get("budget", 10), "budget"),
        cap=_int(w["cap"], "cap") if w.get("cap") else None,
        max_priorities=_int(w.get("max_priorities", 5), "max_priorities"),
        phase=w["phase"],
        results_shown=bool(w.get("results_shown", False)),
        moderation=w.get("moderation") if w.get("moderation") in ("pre", "post") else "post",
        helices=helices,
        criteria=criteria,
        settings=settings,
        facilitator=facilitator,
    )
    if w.get("created_at"):
        ws.created_at = _time(w["created_at"])
    if w.get("phase_ends_at") and hasattr(Workshop, "phase_ends_at"):
        ws.phase_ends_at = _time(w["phase_ends_at"])
    db.session.add(ws)
    db.session.flush()
    return ws


class _Importer:
    """The rows of one record, created step by step, with the maps from recorded ids to new
    ones (participants by reference, domains and comments by id)."""

    def __init__(self, record: dict[str, Any], ws: Workshop):
        self.record, self.ws = record, ws
        self.people: dict[str, Participant] = {}
        self.dmap: dict[int, int] = {}
        self.cmap: dict[int, int] = {}
        self.smap: dict[int, int] = {}
        self.imap: dict[int, int] = {}

    def person(self, ref: Any, what: str) -> Participant:
        if ref not in self.people:
            raise RecordError(f"{what}: unknown participant {ref!r}")
        return self.people[ref]

    def domain_id(self, value: Any, what: str) -> int:
        old = _int(value, what)
        if old not in self.dmap:
            raise RecordError(f"{what}: unknown domain {old}")
        return self.dmap[old]

    def _names(self) -> dict[str, tuple[str, str]]:
        """Names and organisations, only from a "named" record."""
        names: dict[str, tuple[str, str]] = {}
        if self.ws.settings.get("anonymity") != "named":
            return names
        for d in self.record.get("domains", []):
            if d.get("proposed_by") and (d.get("proposer_name") or d.get("proposer_organisation")):
                names[d["proposed_by"]] = (d.get("proposer_name") or "",
                                           d.get("proposer_organisation") or "")
        for c in self.record.get("comments", []):
            if c.get("participant") and (c.get("name") or c.get("organisation")):
                names[c["participant"]] = (c.get("name") or "", c.get("organisation") or "")
        return names

    def participants(self) -> None:
        names = self._names()
        for item in self.record.get("participants", []):
            ref = str(item["ref"])
            if ref in self.people:
                raise RecordError(f"participant {ref} appears twice")
            name, org = names.get(ref, ("", ""))
            p = Participant(workshop_id=self.ws.id, token=secrets.token_urlsafe(24),
                            helix=str(item["helix"])[:40], name=name[:120],
                            organisation=org[:200])
            if item.get("joined_at"):
                p.created_at = _time(item["joined_at"])
            self.people[ref] = p
        db.session.add_all(self.people.values())
        db.session.flush()

    def _domain_row(self, d: dict[str, Any]) -> Domain:
        status = d.get("status", "approved")
        if status not in STATUSES:
            raise RecordError(f"domain {d['domain_id']}: unknown status {status!r}",
                              f"domains[{self.record['domains'].index(d)}].status")
        row = Domain(
            workshop_id=self.ws.id,
            title=str(d["title"])[:200],
            description=str(d.get("description") or ""),
            rationale=str(d.get("rationale") or ""),
            sdgs=sorted({int(s) for s in d.get("sdgs") or [] if 1 <= int(s) <= 17}),
            status=status,
            seed=bool(d.get("seed")),
            participant_id=(self.person(d["proposed_by"], "domain").id
                            if d.get("proposed_by") else None),
            sectors=[str(c) for c in d.get("sectors") or []],
        )
        if d.get("created_at"):
            row.created_at = _time(d["created_at"])
        return row

    def diagnosis(self) -> None:
        """The region's diagnosis data, whole (edp/evidence.py computes the same evidence)."""
        from .models import Diagnosis

        part = self.record.get("diagnosis")
        if not part:
            return
        regions = [str(r) for r in part["regions"]]
        sectors = [[str(c), str(n)] for c, n in part["sectors"]]
        values = []
        for k, (i, j, v) in enumerate(part["values"]):
            if not (float(i).is_integer() and float(j).is_integer()
                    and 0 <= i < len(regions) and 0 <= j < len(sectors)):
                raise RecordError("a value names no region or sector of the diagnosis",
                                  f"diagnosis.values[{k}]")
            values.append([int(i), int(j), int(v) if float(v).is_integer() else float(v)])
        if str(part["region"]) not in regions:
            raise RecordError("the diagnosis' region is not among its regions",
                              "diagnosis.region")
        row = Diagnosis(workshop_id=self.ws.id, region=str(part["region"]),
                        source=str(part.get("source") or "")[:300], year=part.get("year"),
                        data={"regions": regions, "sectors": sectors, "values": values,
                              "years": [int(y) for y in part.get("years") or []]})
        if part.get("loaded_at"):
            row.loaded_at = _time(part["loaded_at"])
        db.session.add(row)

    def domains(self) -> None:
        """Domains in id order; merges once every domain has its new id."""
        recorded = sorted(self.record.get("domains", []),
                          key=lambda d: _int(d["domain_id"], "domain"))
        rows: list[tuple[dict, Domain]] = []
        for d in recorded:
            row = self._domain_row(d)
            db.session.add(row)
            db.session.flush()
            old = _int(d["domain_id"], "domain")
            if old in self.dmap:
                raise RecordError(f"domain {old} appears twice")
            self.dmap[old] = row.id
            rows.append((d, row))
        for d, row in rows:
            if d.get("merged_into") is not None:
                target = _int(d["merged_into"], "merged_into")
                if target not in self.dmap:
                    raise RecordError(f"domain {d['domain_id']} is merged into unknown {target}")
                row.merged_into_id = self.dmap[target]

    def comments(self) -> None:
        """The author from the comment, or in a version 1 record from its event."""
        authors = {
            (e.get("payload") or {}).get("comment_id"): e.get("participant")
            for e in self.record.get("events", []) if e.get("kind") == "comment"
        }
        rows: dict[int, Comment] = {}
        for c in sorted(self.record.get("comments", []),
                        key=lambda c: _int(c["comment_id"], "comment")):
            ref = c.get("participant") or authors.get(c["comment_id"])
            row = Comment(workshop_id=self.ws.id,
                          domain_id=self.domain_id(c["domain_id"], "comment"),
                          participant_id=self.person(ref, f"comment {c['comment_id']}").id,
                          stance=str(c["stance"]), text=str(c["text"]),
                          hidden=c.get("hidden") is True)
            if c.get("at"):
                row.created_at = _time(c["at"])
            old = _int(c["comment_id"], "comment")
            if old in rows:
                raise RecordError(f"comment {old} appears twice")
            rows[old] = row
        db.session.add_all(rows.values())
        db.session.flush()
        self.cmap = {old: row.id for old, row in rows.items()}

    def _author(self, ref: Any, what: str) -> int | None:
        return self.person(ref, what).id if ref is not None else None

    def statements(self) -> None:
        """The vision statements in id order (their counts come back with the reactions)."""
        rows: dict[int, Statement] = {}
        for n, item in sorted(enumerate(self.record.get("vision") or []),
                              key=lambda x: _int(x[1]["statement_id"], "statement")):
            old = _int(item["statement_id"], "statement")
            if old in rows:
                raise RecordError(f"statement {old} appears twice",
                                  f"vision[{n}].statement_id")
            row = Statement(workshop_id=self.ws.id, text=str(item["text"]),
                            adopted=item.get("adopted") is True,
                            hidden=item.get("hidden") is True,
                            participant_id=self._author(item.get("participant"), "statement"))
            if item.get("at"):
                row.created_at = _time(item["at"])
            rows[old] = row
        db.session.add_all(rows.values())
        db.session.flush()
        self.smap = {old: row.id for old, row in rows.items()}

    def swot(self) -> None:
        """Each domain's SWOT items, hidden ones included, in item id order (an item without
        an id, as a hand-made record may have, comes first and no event can name it)."""
        found = [(_int(item.get("item_id") or 0, "item_id"), n, k, d, item)
                 for n, d in enumerate(self.record.get("domains", []))
                 for k, item in enumerate(d.get("swot") or [])]
        rows: list[tuple[int, SwotItem]] = []
        for old, n, k, d, item in sorted(found, key=lambda x: x[0]):
            if old and old in self.imap:
                raise RecordError(f"SWOT item {old} appears twice",
                                  f"domains[{n}].swot[{k}].item_id")
            row = SwotItem(workshop_id=self.ws.id,
                           domain_id=self.domain_id(d["domain_id"], "swot"),
                           participant_id=self._author(item.get("participant"), "swot"),
                           quadrant=str(item["quadrant"]), text=str(item["text"]),
                           helix=item.get("helix"), hidden=item.get("hidden") is True)
            if item.get("at"):
                row.created_at = _time(item["at"])
            self.imap[old] = 0  # taken; the new id below
            rows.append((old, row))
        db.session.add_all(row for _old, row in rows)
        db.session.flush()
        self.imap = {old: row.id for old, row in rows if old}

    def reactions(self) -> None:
        items = []
        for ref, entry in (self.record.get("reactions") or {}).items():
            who = self.person(ref, "reactions").id
            for sid, reaction in (entry.get("statements") or {}).items():
                old = _int(sid, "statement")
                if old not in self.smap:
                    raise RecordError(f"unknown statement {old}", f"reactions.{ref}.statements.{sid}")
                items.append({"workshop_id": self.ws.id, "statement_id": self.smap[old],
                              "participant_id": who, "reaction": str(reaction)})
        if items:
            db.session.execute(sa.insert(Reaction), items)

    def funding(self) -> None:
        items = []
        for ref, entry in (self.record.get("funding") or {}).items():
            who = self.person(ref, "funding").id
            for did, item in (entry.get("signals") or {}).items():
                row = {"workshop_id": self.ws.id, "participant_id": who,
                       "domain_id": self.domain_id(did, f"funding.{ref}.signals.{did}"),
                       "signal": str(item["signal"]),
                       "instrument": str(item.get("instrument") or "")[:200]}
                if item.get("at"):
                    row["updated_at"] = _time(item["at"])
                items.append(row)
        if items:
            db.session.execute(sa.insert(Funding), items)

    def _votes(self, seen: set[tuple]) -> list[dict[str, Any]]:
        votes = []
        for ref, entry in (self.record.get("votes") or {}).items():
            for did, points in (entry.get("points") or {}).items():
                row = {"workshop_id": self.ws.id, "participant_id": self.person(ref, "votes").id,
                       "domain_id": self.domain_id(did, "votes"), "points": _int(points, "points")}
                if ("v", ref, row["domain_id"]) in seen:
                    raise RecordError(f"a second vote of {ref} for domain {did}",
                                      f"votes.{ref}.points.{did}")
                seen.add(("v", ref, row["domain_id"]))
                votes.append(row)
        return votes

    def _scores(self, seen: set[tuple]) -> list[dict[str, Any]]:
        scores = []
        for ref, entry in (self.record.get("scores") or {}).items():
            for did, values in (entry.get("values") or {}).items():
                for criterion, value in values.items():
                    row = {"workshop_id": self.ws.id,
                           "participant_id": self.person(ref, "scores").id,
                           "domain_id": self.domain_id(did, "scores"),
                           "criterion": str(criterion), "value": _int(value, "score")}
                    key = ("s", ref, row["domain_id"], row["criterion"])
                    if key in seen:
                        raise RecordError(f"a second score of {ref} for domain {did}",
                                          f"scores.{ref}.values.{did}.{criterion}")
                    seen.add(key)
                    scores.append(row)
        return scores

    def _rankings(self) -> list[dict[str, Any]]:
        rankings = []
        for ref, entry in (self.record.get("rankings") or {}).items():
            order = [self.domain_id(x, "ranking") for x in entry.get("order") or []]
            if len(set(order)) != len(order):
                n = next(i for i, x in enumerate(order) if x in order[:i])
                raise RecordError("a domain ranked twice", f"rankings.{ref}.order[{n}]")
            rankings.append({"workshop_id": self.ws.id,
                             "participant_id": self.person(ref, "rankings").id, "order": order})
        return rankings

    def ballots(self) -> None:
        """One vote per participant and domain, one score per criterion, a domain once in a
        ranking (the database would refuse the first two, halfway through the import)."""
        seen: set[tuple] = set()
        for model, items in ((Vote, self._votes(seen)), (Score, self._scores(seen)),
                             (Ranking, self._rankings())):
            if items:
                db.session.execute(sa.insert(model), items)

    def priorities(self) -> None:
        decided: set[int] = set()
        for n, p in enumerate(self.record.get("priorities", [])):
            domain = self.domain_id(p["domain_id"], "priority")
            if domain in decided:
                raise RecordError(f"domain {p['domain_id']} is a priority twice",
                                  f"priorities[{n}].domain_id")
            decided.add(domain)
            row = Priority(workshop_id=self.ws.id, domain_id=domain,
                           rank=_int(p["rank"], "rank"), rationale=str(p["rationale"]),
                           indicators=list(p.get("indicators") or []),
                           funders=[str(f) for f in p.get("funders") or []])
            if p.get("decided_at"):
                row.decided_at = _time(p["decided_at"])
            db.session.add(row)

    def events(self) -> None:
        """The event log, in order, with its times and the new ids."""
        dom, com = _lookup(self.dmap), _lookup(self.cmap)
        stm, swo = _lookup(self.smap), _lookup(self.imap)
        events = []
        for e in sorted(self.record.get("events", []), key=lambda e: _int(e["id"], "event")):
            ref = e.get("participant")
            events.append({
                "workshop_id": self.ws.id,
                "at": _time(e.get("at")) or self.ws.created_at,
                "kind": str(e["kind"])[:20],
                "actor_role": str(e.get("actor_role") or "system")[:12],
                "helix": e.get("helix"),
                "participant_id": self.person(ref, "event").id if ref is not None else None,
                "payload": remap_payload(str(e["kind"]), e.get("payload") or {}, dom, com,
                                         stm, swo),
            })
        if events:
            db.session.execute(sa.insert(Event), events)
