"""Translated words and numbers the exports share (call them inside `force_locale`)."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd
from flask_babel import format_decimal
from flask_babel import gettext as _

from ..models import Domain, Workshop
from .snapshot import Snapshot, indicator_parts


def stance_label(stance: str) -> str:
    return {"support": _("Support"), "concern": _("Concern"), "question": _("Question"),
            "evidence": _("Evidence")}.get(stance, stance)


def status_label(status: str) -> str:
    return {"approved": _("Approved"), "pending": _("Waiting for approval"),
            "hidden": _("Hidden"), "merged": _("Merged")}.get(status, status)


def phase_label(phase: str) -> str:
    return {"lobby": _("Lobby"), "vision": _("Vision"), "propose": _("Propose"), "discuss": _("Discuss"),
            "vote": _("Vote"), "results": _("Results"), "decide": _("Decide"),
            "closed": _("Closed")}.get(phase, phase)


def quadrant_label(quadrant: str) -> str:
    """One SWOT item's quadrant (a table cell)."""
    return {"strength": _("Strength"), "weakness": _("Weakness"),
            "opportunity": _("Opportunity"), "threat": _("Threat")}.get(quadrant, quadrant)


def quadrant_heading(quadrant: str) -> str:
    """A quadrant over its items, as the pages head it."""
    return {"strength": _("Strengths"), "weakness": _("Weaknesses"),
            "opportunity": _("Opportunities"), "threat": _("Threats")}.get(quadrant, quadrant)


def signal_label(signal: str) -> str:
    return {"yes": _("Yes"), "maybe": _("Maybe"), "no": _("No")}.get(signal, signal)


def reaction_label(reaction: str) -> str:
    return {"agree": _("Agree"), "disagree": _("Disagree"), "pass": _("Pass")}.get(reaction,
                                                                                    reaction)


def funding_counts(funding: dict[str, Any]) -> str:
    """"2 / 1 / 0": yes / maybe / no, for a table cell headed `funding_head()`."""
    return " / ".join(str(int(funding.get(k, 0))) for k in ("yes", "maybe", "no"))


def funding_head() -> str:
    return _("Funders: yes / maybe / no")


def funding_line(funding: dict[str, Any]) -> str:
    """The funders' signal beside support: "Funders' signal: Yes 2 · Maybe 1 · No 0
    (instruments: ERDF 2028 call; Regional development bank)"."""
    text = _("Funders' signal") + ": " + " · ".join(
        f"{signal_label(k)} {int(funding.get(k, 0))}" for k in ("yes", "maybe", "no"))
    if funding.get("instruments"):
        text += " (" + _("instruments: %(names)s",
                         names="; ".join(funding["instruments"])) + ")"
    return text


def sector_figures(item: dict[str, Any]) -> str:
    """One linked sector's figures: "27 Electrical equipment: RCA 2.1 · 4.5 % of the region ·
    relatedness density 0.45 · complexity 0.8 · related strengths: 28 Machinery (RCA 3.1)"."""
    parts = []
    if item.get("rca") is not None:
        parts.append(_("RCA %(value)s", value=num(item["rca"])))
    if item.get("share") is not None:
        parts.append(_("%(value)s %% of the region", value=num(100 * item["share"])))
    if item.get("density") is not None:
        parts.append(_("relatedness density %(value)s", value=num(item["density"])))
    if item.get("complexity") is not None:
        parts.append(_("complexity %(value)s", value=num(item["complexity"])))
    if item.get("related"):
        parts.append(_("related strengths: %(list)s", list="; ".join(
            f"{r['code']} {r['name']} (RCA {num(r['rca'])})" for r in item["related"])))
    if not parts:
        parts.append(_("not in the current data"))
    name = item["code"] if item.get("name") in (None, "", item["code"]) else \
        f"{item['code']} {item['name']}"
    return f"{name}: " + " · ".join(parts)


def data_source(evidence: dict[str, Any]) -> str:
    """ "Demo Region; source: INE survey, 2023" """
    text = _("%(region)s; source: %(source)s", region=evidence.get("region") or "–",
             source=evidence.get("source") or "–")
    return text + (f", {evidence['year']}" if evidence.get("year") else "")


def data_line(evidence: dict[str, Any]) -> str:
    """A linked domain's evidence on one line, with the data's source and year."""
    return (_("Regional data (%(source)s)", source=data_source(evidence)) + ": "
            + "; ".join(sector_figures(s) for s in evidence["sectors"]))


def method_label(method: str) -> str:
    return {"dot": _("Dot voting"), "score": _("Multi-criteria scoring"),
            "rank": _("Ranking")}.get(method, method)


def role_label(role: str) -> str:
    return {"participant": _("Participant"), "facilitator": _("Facilitator"),
            "system": _("System")}.get(role, role)


def disagree_label() -> str:
    """The pages' words for a polarised domain (ui_strings `warn_polarised`)."""
    return _("Helices disagree")


def method_text(ws: Workshop) -> str:
    """One sentence on how the scores were made, for the reports."""
    if ws.method == "dot":
        text = _("Each participant spread %(budget)s points over the domains; the score is the "
                 "total of points, and each helix's support is its points per voter.",
                 budget=ws.budget)
    elif ws.method == "score":
        criteria = ", ".join(f"{c['label']} ({format_decimal(c['weight'], '0.##')})"
                             for c in ws.criteria)
        text = _("Each participant scored the domains from 1 to 5 on every criterion (%(criteria)s); "
                 "the score is the mean of the participants' weighted means.", criteria=criteria)
    else:
        text = _("Each participant ranked the domains; the score is the Borda count (with m "
                 "domains, position i earns m - i points), and each helix's support is its "
                 "points per voter.")
    return text + " " + _("The helix-balanced score gives every helix with voters the same "
                          "weight, whatever its head count.")


def anonymity_text(snap: Snapshot) -> str:
    if snap.named:
        return _("Named: comments and proposals show the names and organisations participants "
                 "gave; the deliberation timeline stays anonymous.")
    return _("Anonymous: participants appear by helix only.")


def num(value: Any) -> str:
    """A number for people, in the workshop's locale ("–" when there is none)."""
    if value is None or value is pd.NA:
        return "–"
    value = float(value)
    if math.isnan(value):
        return "–"
    return format_decimal(value, format="#,##0.##")


def date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def clock(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None and not pd.isna(value) else ""


def indicator_text(item: Any) -> str:
    """"Hectares irrigated (baseline 1200, target 5000)"; a plain string stays as it is."""
    name, baseline, target = indicator_parts(item)
    extra = []
    if baseline:
        extra.append(_("baseline %(value)s", value=baseline))
    if target:
        extra.append(_("target %(value)s", value=target))
    return f"{name} ({', '.join(extra)})" if extra else name


def domain_warnings(snap: Snapshot, domain_id: int) -> list[str]:
    """The results' warnings about one domain, as sentences."""
    labels = snap.helix_labels
    out = []
    for w in snap.results.get("warnings", []):
        if w.get("domain_id") != domain_id:
            continue
        if w.get("code") == "one_helix":
            out.append(_("All its support comes from one helix: %(helix)s.",
                         helix=labels.get(w.get("helix"), w.get("helix"))))
        elif w.get("code") == "polarised":
            out.append(_("Helices disagree: the least supportive helix gives it less than a "
                         "quarter of what the most supportive one gives."))
    return out


def representation_warnings(snap: Snapshot) -> list[str]:
    labels = snap.helix_labels
    return [
        _("%(helix)s is under-represented (%(n)s joined).",
          helix=labels.get(w["helix"], w["helix"]), n=w.get("present", 0))
        for w in snap.results.get("warnings", []) if w.get("code") == "under_represented"
    ]


def evidence_line(result: dict[str, Any]) -> str:
    """Score, balanced score, voters and consensus in one line."""
    parts = [
        f"{_('Score')}: {num(result['score'])}",
        f"{_('Helix-balanced score')}: {num(result['balanced_score'])}",
        f"{_('Voters')}: {result['voters']}",
    ]
    if "consensus" in result:
        parts.append(f"{_('Consensus')}: {num(result['consensus'])}")
        parts.append(f"{_('Spread')}: {num(result.get('spread'))}")
    return " · ".join(parts)


def proposer(snap: Snapshot, d: Domain | None) -> str:
    if d is None:
        return ""
    if d.seed or d.participant_id is None:
        return _("From the regional diagnosis")
    helix = snap.helix_labels.get(snap.helix_of.get(d.participant_id, ""), "")
    who = snap.author(d.participant_id)
    return f"{who}, {helix}" if who else _("A participant from %(helix)s", helix=helix)
