"""The event log told in words: one translated sentence per event, and the anonymised timeline."""
from __future__ import annotations

from typing import Any

from flask_babel import format_decimal, gettext
from flask_babel import gettext as _

from .. import workshop as rules
from .labels import (
    method_label,
    phase_label,
    quadrant_label,
    reaction_label,
    signal_label,
    stance_label,
)
from .snapshot import Snapshot

# Events that come in crowds; the timeline summarises each uninterrupted run of them.
BULK_KINDS = ("join", "vote", "score", "rank", "comment", "statement", "react", "swot", "fund")


def _opt(value: Any) -> str:
    return "–" if value is None else str(value)


class Describer:
    """One translated sentence per event, naming domains and helices, never a person.

    A new kind of event is one `_<kind>` method; an event without one is told by its name."""

    def __init__(self, snap: Snapshot):
        self.titles = snap.titles
        self.statements = {row.id: row.text for row in snap.statements}
        self._memo: dict[str, str] = {}
        self.stances = {s: stance_label(s) for s in rules.STANCES}
        self.phases = {p: phase_label(p) for p in rules.PHASES}
        self.methods = {m: method_label(m) for m in rules.METHODS}
        self.moderation = {
            "approve": self._("Approved: %(title)s"),
            "hide": self._("Hidden: %(title)s"),
        }

    def _(self, msgid: str, **values: Any) -> str:
        """gettext, looked up once per export: the event log runs to thousands of rows."""
        text = self._memo.get(msgid)
        if text is None:
            text = self._memo[msgid] = gettext(msgid)
        return text % values if values else text

    def title(self, p: dict[str, Any], key: str = "domain_id") -> str:
        did = p.get(key)
        return self.titles.get(did) or str(p.get("title") or (f"#{did}" if did else ""))

    def __call__(self, e: Any) -> str:
        tell = getattr(self, f"_{e.kind}", None)
        if tell is not None:
            try:
                return tell(e.payload or {}, e)
            except (TypeError, ValueError, KeyError):
                pass  # an unexpected payload: fall back to the event's name
        return str(e.kind)

    def _workshop_created(self, p, e) -> str:
        return self._("Workshop created: %(title)s (%(method)s)", title=p.get("title", ""),
                 method=self.methods.get(p.get("method"), p.get("method")))

    def _join(self, p, e) -> str:
        return self._("A participant joined")

    def _propose(self, p, e) -> str:
        if e.actor_role == "system" or p.get("seed"):
            text = self._("Domain from the regional diagnosis: %(title)s", title=self.title(p))
        else:
            text = self._("Proposal: %(title)s", title=self.title(p))
        if p.get("status") == "pending":
            text += " (" + self._("waiting for approval") + ")"
        if p.get("sdgs"):
            text += " · " + ", ".join(self._("SDG %(n)s", n=n) for n in p["sdgs"])
        return text

    def _moderate(self, p, e) -> str:
        action = p.get("action")
        if action == "merge":
            text = self._("Merged: %(title)s into %(into)s", title=self.title(p),
                     into=p.get("into_title") or self.title(p, "into"))
        else:
            text = self.moderation.get(action, str(action)) % {"title": self.title(p)}
        if p.get("points_moved"):
            text += " · " + self._("%(n)s points moved", n=p["points_moved"])
        if p.get("points_returned"):
            text += " · " + self._("%(n)s points returned to the voters", n=p["points_returned"])
        return text

    def _comment(self, p, e) -> str:
        return self._("Comment (%(stance)s) on %(title)s",
                 stance=self.stances.get(p.get("stance"), p.get("stance")), title=self.title(p))

    def _vote(self, p, e) -> str:
        values = {"title": self.title(p), "before": _opt(p.get("before")),
                  "points": _opt(p.get("points"))}
        if p.get("reason") == "merged":
            return self._("Points moved by a merge, %(title)s: %(before)s → %(points)s", **values)
        if p.get("reason") == "hidden":
            return self._("Points returned from a hidden domain, %(title)s: "
                     "%(before)s → %(points)s", **values)
        return self._("Points on %(title)s: %(before)s → %(points)s", **values)

    def _score(self, p, e) -> str:
        return self._("Score on %(title)s, %(criterion)s: %(before)s → %(value)s",
                 title=self.title(p), criterion=p.get("criterion"),
                 before=_opt(p.get("before")), value=_opt(p.get("value")))

    def _rank(self, p, e) -> str:
        return self._("Ranking changed (%(n)s domains)", n=len(p.get("order") or []))

    def _phase(self, p, e) -> str:
        return self._("Phase: %(before)s → %(phase)s",
                 before=self.phases.get(p.get("before"), _opt(p.get("before"))),
                 phase=self.phases.get(p.get("phase"), p.get("phase")))

    def _timer(self, p, e) -> str:
        phase = self.phases.get(p.get("phase"), _opt(p.get("phase")))
        seconds = float(p["seconds"])
        if seconds <= 0:
            return self._("Countdown stopped (%(phase)s)", phase=phase)
        return self._("Countdown started (%(phase)s): %(minutes)s min", phase=phase,
                 minutes=format_decimal(seconds / 60, format="#,##0.#"))

    def _reveal(self, p, e) -> str:
        if p.get("shown"):
            return self._("Results shown to participants and the projector")
        return self._("Results hidden from participants")

    def _method(self, p, e) -> str:
        return self._("Voting method: %(before)s → %(method)s",
                 before=self.methods.get(p.get("before"), p.get("before")),
                 method=self.methods.get(p.get("method"), p.get("method")))

    def _decide(self, p, e) -> str:
        text = self._("Priority %(rank)s: %(title)s", rank=p.get("rank"), title=self.title(p))
        return text + (" (" + self._("updated") + ")" if p.get("before") else "")

    def _undecide(self, p, e) -> str:
        return self._("Removed from the short list: %(title)s", title=self.title(p))

    def statement(self, p: dict[str, Any]) -> str:
        return self.statements.get(p.get("statement_id")) or str(p.get("text") or "")

    def _statement(self, p, e) -> str:
        text = self._("Vision statement: %(text)s", text=self.statement(p))
        return text + (" (" + self._("adopted") + ")" if p.get("adopted") else "")

    def _react(self, p, e) -> str:
        return self._("Reaction to a vision statement: %(reaction)s",
                      reaction=reaction_label(str(p.get("reaction"))))

    def _adopt(self, p, e) -> str:
        if p.get("adopted"):
            return self._("Adopted into the shared vision: %(text)s", text=self.statement(p))
        return self._("Taken out of the shared vision: %(text)s", text=self.statement(p))

    def _statement_hidden(self, p, e) -> str:
        return self._("A vision statement hidden by the facilitator")

    def _statement_restored(self, p, e) -> str:
        return self._("A vision statement restored by the facilitator")

    def _swot(self, p, e) -> str:
        return self._("SWOT (%(quadrant)s) on %(title)s",
                      quadrant=quadrant_label(str(p.get("quadrant"))), title=self.title(p))

    def _swot_hidden(self, p, e) -> str:
        return self._("A SWOT item on %(title)s hidden by the facilitator", title=self.title(p))

    def _swot_restored(self, p, e) -> str:
        return self._("A SWOT item on %(title)s restored by the facilitator",
                      title=self.title(p))

    def _fund(self, p, e) -> str:
        text = self._("Funders' signal on %(title)s: %(signal)s", title=self.title(p),
                      signal=signal_label(str(p.get("signal"))))
        return text + (f" · {p['instrument']}" if p.get("instrument") else "")

    def _moderate_comment(self, p, e) -> str:
        text = {"hide": self._("A comment on %(title)s hidden by the facilitator"),
                "restore": self._("A comment on %(title)s restored by the facilitator")}
        return text[p.get("action")] % {"title": self.title(p)}


def _counts(items: list[str], label) -> str:
    found: dict[str, int] = {}
    for x in items:
        found[x] = found.get(x, 0) + 1
    return ", ".join(f"{label(k)} {n}" for k, n in found.items())


def _run_summary(run: list[Any], labels: dict[str, str]) -> dict[str, Any]:
    """One timeline row for a run of participants' events: counts by helix and stance."""
    joins = [e.helix or "" for e in run if e.kind == "join"]
    comments = [str((e.payload or {}).get("stance", "")) for e in run if e.kind == "comment"]
    ballots = [e.helix or "" for e in run if e.kind in ("vote", "score", "rank")]

    def helix(h):
        return labels.get(h, h)
    parts = []
    if joins:
        parts.append(_("Participants joined: %(n)s (%(detail)s)", n=len(joins),
                       detail=_counts(joins, helix)))
    if comments:
        parts.append(_("Comments: %(n)s (%(detail)s)", n=len(comments),
                       detail=_counts(comments, stance_label)))
    if ballots:
        parts.append(_("Ballot changes: %(n)s (%(detail)s)", n=len(ballots),
                       detail=_counts(ballots, helix)))
    parts += _method_parts(run)
    return {"at": run[0].at, "until": run[-1].at, "actor_role": "participant", "helix": "",
            "summary": "; ".join(parts)}


def _method_parts(run: list[Any]) -> list[str]:
    """A run's vision statements, reactions, SWOT items and funders' signals, counted."""
    def values(kind: str, key: str) -> list[str]:
        return [str((e.payload or {}).get(key, "")) for e in run if e.kind == kind]

    statements, reactions = values("statement", "text"), values("react", "reaction")
    swot, signals = values("swot", "quadrant"), values("fund", "signal")
    parts = []
    if statements:
        parts.append(_("Vision statements: %(n)s", n=len(statements)))
    if reactions:
        parts.append(_("Reactions to the vision: %(n)s (%(detail)s)", n=len(reactions),
                       detail=_counts(reactions, reaction_label)))
    if swot:
        parts.append(_("SWOT items: %(n)s (%(detail)s)", n=len(swot),
                       detail=_counts(swot, quadrant_label)))
    if signals:
        parts.append(_("Funders' signals: %(n)s (%(detail)s)", n=len(signals),
                       detail=_counts(signals, signal_label)))
    return parts


def timeline(snap: Snapshot, describe: Describer) -> list[dict[str, Any]]:
    """The anonymised deliberation timeline: every event in order, with crowds of joins,
    comments and ballot changes summarised per uninterrupted run (counts by helix and stance),
    and the system's point moves folded into the moderation they follow. No identities."""
    labels = snap.helix_labels
    out: list[dict[str, Any]] = []
    run: list[Any] = []
    for e in snap.events:
        if e.kind in BULK_KINDS and e.actor_role == "participant":
            run.append(e)
            continue
        if e.kind == "vote" and e.actor_role == "system":
            continue  # told by the moderation event just before
        if run:
            out.append(_run_summary(run, labels))
            run = []
        out.append({"at": e.at, "until": e.at, "actor_role": e.actor_role,
                    "helix": labels.get(e.helix, e.helix) if e.helix else "",
                    "summary": describe(e)})
    if run:
        out.append(_run_summary(run, labels))
    return out
