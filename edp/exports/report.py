"""The workshop report as blocks (see `docx_writer`), one method per section.

The DOCX and Markdown reports render the same blocks, so they carry the same content (the
charts are images in the DOCX only). A new section is one method named in `SECTIONS`.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
from flask_babel import gettext as _

from .. import method
from ..sdgs import sdg_label
from . import charts
from .frames import Frames
from .labels import (
    anonymity_text,
    clock,
    data_line,
    date,
    disagree_label,
    domain_warnings,
    evidence_line,
    funding_counts,
    funding_head,
    funding_line,
    indicator_text,
    method_label,
    method_text,
    num,
    phase_label,
    proposer,
    quadrant_heading,
    representation_warnings,
    role_label,
    stance_label,
    status_label,
    time,
)
from .snapshot import Snapshot, indicator_parts, split_comments, stances_in_order

SECTIONS = ("cover", "participation", "vision", "results", "priorities", "domain_sheets",
            "long_list", "deliberation", "all_domains", "timeline")


def subject() -> str:
    return _("Entrepreneurial Discovery Process: priorities and rationale")


class Report:
    def __init__(self, snap: Snapshot, frames: Frames, charts: bool):
        self.snap, self.frames, self.charts = snap, frames, charts
        self.labels = snap.helix_labels
        self.items = snap.priority_items()
        self.grouped = snap.comments_by_domain
        # The funders' signal is shown where the workshop has a funding helix (or signals).
        self.funders = bool(method.funder_helices(snap.ws) or snap.funding)

    def blocks(self) -> list[tuple]:
        out: list[tuple] = []
        for name in SECTIONS:
            out += getattr(self, name)()
        return out

    def comment_notes(self, comments: list[Any], with_stance: bool = False) -> list[tuple]:
        """(text, "Stance, Name (Org), Helix") per comment; the name only when named."""
        notes = []
        for c in comments:
            who = [self.labels.get(c.helix, c.helix)]
            author = self.snap.author(c.participant_id)
            if author:
                who.insert(0, author)
            if with_stance:
                who.insert(0, stance_label(c.stance))
            notes.append((c.text, ", ".join(who)))
        return notes

    def cover(self) -> list[tuple]:
        """The essentials on one page: the facts, participation by helix and the short list."""
        ws, snap = self.snap.ws, self.snap
        part = self.frames["Participation"]
        out = [("title", ws.title), ("p", subject())]
        if snap.adopted:  # the adopted vision heads the report
            out += [("h2", _("Shared vision")), ("bullets", snap.adopted)]
        out += [("facts", [
            (_("Region"), ws.region or "–"),
            (_("Date"), date(snap.exported_at)),
            (_("Phase"), phase_label(ws.phase)),
            (_("Voting method"), method_label(ws.method)),
            (_("Participants"), int(part["participants"].sum())),
            (_("Priorities"), f"{len(self.items)} / {ws.max_priorities}"),
        ])]
        description = (ws.settings or {}).get("description")
        if description:
            out.append(("p", description))
        out += [("h2", _("Participation by helix")), self.participation_table(),
                ("h2", _("Priorities")), self.short_list(),
                ("p", _("Exported from EDP Live on %(when)s.",
                        when=f"{snap.exported_at:%Y-%m-%d %H:%M} UTC"))]
        return out + [("pagebreak",)]

    def participation_table(self) -> tuple:
        part = self.frames["Participation"]
        rows = [[r.label, r.participants, r.voters] for r in part.itertuples()]
        rows.append([_("Total"), int(part["participants"].sum()), int(part["voters"].sum())])
        return ("table", [_("Helix"), _("Participants"), _("Voters")], rows)

    def short_list(self) -> tuple:
        """The priorities by rank with their scores (the cover's short list)."""
        if not self.items:
            return ("p", _("No priorities have been decided yet."))
        return ("table", [_("Rank"), _("Domain"), _("Score"), _("Helix-balanced score")],
                [[i["rank"], i["title"], num((i["result"] or {}).get("score")),
                  num((i["result"] or {}).get("balanced_score"))] for i in self.items])

    def participation(self) -> list[tuple]:
        ws, part = self.snap.ws, self.frames["Participation"]
        out = [("h1", _("Method and participation")),
               ("p", f"{method_label(ws.method)}. {method_text(ws)}"),
               ("p", anonymity_text(self.snap))]  # the table is on the cover
        if self.charts:
            out.append(("chart", charts.participation_png(self.snap, part)))
        under = representation_warnings(self.snap)
        if under:
            out += [("labelled", _("Under-represented helices"), ""), ("bullets", under)]
        return out

    def vision(self) -> list[tuple]:
        """Every visible vision statement with its reactions, broadest agreement first."""
        shown = [s for s in self.snap.vision if not s.get("hidden")]
        if not shown:
            return []
        return [("h1", _("Vision statements")),
                ("p", _("Participants reacted to each statement; the agreement across helices "
                        "is high only when every helix agrees (from 0 to 1).")),
                ("table", [_("Statement"), _("Agree"), _("Disagree"), _("Pass"),
                           _("Agreement across helices"), _("Adopted")],
                 [[s["text"], s["agree"], s["disagree"], s["pass"], num(s["agreement"]),
                   _("Yes") if s["adopted"] else ""] for s in shown])]

    def results(self) -> list[tuple]:
        """The chart (DOCX) and the ranking with its agreement flags."""
        ranking = self.snap.results["ranking"]
        if not ranking:
            return [("h1", _("Results")), ("p", _("No domains on the ballot yet."))]
        decided = {i["domain_id"]: i["rank"] for i in self.items}

        def flags(e: dict[str, Any]) -> str:
            out = []
            if e.get("one_helix"):
                out.append(_("Support from one helix only"))
            elif e.get("polarised"):
                out.append(disagree_label())
            if e["domain_id"] in decided:
                out.append(_("Priority %(rank)s", rank=decided[e["domain_id"]]))
            return "; ".join(out)

        out: list[tuple] = [("h1", _("Results"))]
        if self.charts:
            out.append(("chart", charts.results_png(self.snap)))
        head = ["#", _("Domain"), _("Score"), _("Helix-balanced score"), _("Consensus"),
                _("Voters")] + ([funding_head()] if self.funders else []) + [_("Notes")]
        out.append(("table", head, [
            [n, e["title"], num(e["score"]), num(e["balanced_score"]), num(e.get("consensus")),
             e["voters"]] + ([funding_counts(e.get("funding") or {})] if self.funders else [])
            + [flags(e)] for n, e in enumerate(ranking, start=1)]))
        return out

    def priorities(self) -> list[tuple]:
        """The priorities, with rationale and evidence."""
        out: list[tuple] = [("h1", _("Priorities"))]
        if not self.items:
            out.append(("p", _("No priorities have been decided yet.")))
        for item in self.items:
            out += self.priority(item)
        if self.charts and self.items:
            png = charts.split_png(self.snap, self.items)
            if png:
                out.append(("chart", png))
        return out

    def priority(self, item: dict[str, Any]) -> list[tuple]:
        supporting, opposing = split_comments(self.grouped.get(item["domain_id"], {}))
        out: list[tuple] = [("h2", f"{item['rank']}. {item['title']}"),
                            ("labelled", _("Rationale"), item["rationale"])]
        if item["indicators"]:
            out += [("labelled", _("Monitoring indicators"), ""),
                    ("bullets", [indicator_text(i) for i in item["indicators"]])]
        if item["funders"]:
            out += [("labelled", _("Funders and instruments"), ""), ("bullets", item["funders"])]
        result = item["result"]
        if result:
            out.append(("p", evidence_line(result)))
            if result["by_helix"]:
                out.append(("p", _("Support by helix") + ": " + "; ".join(
                    f"{self.labels.get(h, h)} {num(v)}" for h, v in result["by_helix"].items())))
            warnings_ = domain_warnings(self.snap, item["domain_id"])
            if warnings_:
                out.append(("bullets", warnings_))
        else:
            out.append(("p", _("This domain is no longer on the ballot.")))
        if self.funders:  # beside support, its own axis
            out.append(("p", funding_line(self.snap.funding_of(item["domain_id"]))))
        data = self.snap.evidence.get(item["domain_id"])
        if data:  # the region's figures for the domain's sectors, with source and year
            out.append(("p", data_line(data)))
        out.append(("p", (f"{_('Supporting comments')}: {len(supporting)} · "
                          f"{_('Concerns and questions')}: {len(opposing)}")))
        return out + self.swot(item["domain_id"])

    def swot(self, domain_id: int) -> list[tuple]:
        """The domain's SWOT by quadrant, each item with its helix (where the workshop has
        any SWOT at all)."""
        if not self.snap.swot_items:
            return []
        items = self.snap.swot_by_domain.get(domain_id, [])
        out: list[tuple] = [("h3", _("SWOT"))]
        if not items:
            return out + [("p", _("No SWOT items yet."))]
        for quadrant in method.QUADRANTS:
            found = [i for i in items if i.quadrant == quadrant]
            if found:
                out += [("labelled", quadrant_heading(quadrant), ""),
                        ("notes", [(i.text, self.labels.get(i.helix, i.helix or ""))
                                   for i in found])]
        return out

    def domain_sheets(self) -> list[tuple]:
        """One domain sheet per priority."""
        out: list[tuple] = [("h1", _("Domain sheets"))] if self.items else []
        for item in self.items:
            out += self.domain_sheet(item)
        return out

    def sheet_facts(self, item: dict[str, Any]) -> list[tuple]:
        d = item["domain"]
        facts: list[tuple] = [(_("Priority"), item["rank"])]
        if d is not None:
            facts.append((_("Proposed by"), proposer(self.snap, d)))
            sdgs = [sdg_label(n) for n in d.sdgs or []]
            facts.append((_("Sustainable Development Goals"), "; ".join(sdgs) or "–"))
            merged = self.snap.lineage().get(d.id, [])
            if merged:
                facts.append((_("Merged from"), "; ".join(x["title"] for x in merged)))
        return facts

    def domain_sheet(self, item: dict[str, Any]) -> list[tuple]:
        d, found = item["domain"], self.grouped.get(item["domain_id"], {})
        supporting, opposing = split_comments(found)
        none = ("p", _("None recorded yet."))
        no_comments = ("p", _("No comments yet."))
        out: list[tuple] = [("h2", _("Domain sheet: %(title)s", title=item["title"])),
                            ("facts", self.sheet_facts(item))]
        if d is not None and d.description:
            out.append(("labelled", _("Description"), d.description))
        if d is not None and d.rationale:
            out.append(("labelled", _("Why the region can lead"), d.rationale))
        out += [("h3", _("Supporters and concerns by helix")),
                ("table", [_("Helix"), _("Support"), _("Supporting comments"),
                           _("Concerns and questions")],
                 [[row["label"], num(row["support"]), row["supporting_comments"],
                   row["opposing_comments"]] for row in self.snap.helix_evidence(item, found)]),
                ("h3", _("Monitoring indicators")),
                ("table", [_("Indicator"), _("Baseline"), _("Target")],
                 [list(indicator_parts(i)) for i in item["indicators"]])
                if item["indicators"] else none,
                ("h3", _("Funders and instruments")),
                ("bullets", item["funders"]) if item["funders"] else none,
                ("h3", _("Supporting comments")),
                ("notes", self.comment_notes(supporting, True)) if supporting else no_comments,
                ("h3", _("Concerns and questions")),
                ("notes", self.comment_notes(opposing, True)) if opposing else no_comments]
        return out

    def long_list(self) -> list[tuple]:
        """The long list below the line."""
        rest = self.snap.long_list()
        if not rest:
            return [("h1", _("Below the line")), ("p", _("No other domains on the ballot."))]
        funding = [funding_head()] if self.funders else []
        return [("h1", _("Below the line")),
                ("table", ["#", _("Domain"), _("Score"), _("Helix-balanced score"),
                           _("Consensus"), _("Voters"), *funding],
                 [[n, e["title"], num(e["score"]), num(e["balanced_score"]),
                   num(e.get("consensus")), e["voters"]]
                  + ([funding_counts(e.get("funding") or {})] if funding else [])
                  for n, e in enumerate(rest, start=1)])]

    def deliberation(self) -> list[tuple]:
        """Every comment, by domain and stance."""
        out: list[tuple] = [("h1", _("Deliberation"))]
        if not self.grouped:
            out.append(("p", _("No comments yet.")))
        for domain_id in [d for d in self.frames["Domains"]["domain_id"].tolist()
                          if d in self.grouped]:
            out.append(("h2", self.snap.titles.get(domain_id, "")))
            found = self.grouped[domain_id]
            for stance in stances_in_order(found):
                out += [("h3", stance_label(stance)),
                        ("notes", [(text, f"{note}, {time(c.created_at)}") for (text, note), c
                                   in zip(self.comment_notes(found[stance]), found[stance])])]
        return out

    def all_domains(self) -> list[tuple]:
        """All domains (the last table of the DOCX)."""
        titles = self.snap.titles

        def opt(v) -> Any:
            return "" if pd.isna(v) else int(v)

        return [("h1", _("All domains")), (
            "table",
            [_("Rank"), _("Domain"), _("Status"), _("Score"), _("Helix-balanced score"),
             _("Voters"), _("Merged into")],
            [[opt(r.rank), r.title, status_label(r.status), num(r.score), num(r.balanced_score),
              opt(r.voters), "" if pd.isna(r.merged_into) else titles.get(int(r.merged_into), "")]
             for r in self.frames["Domains"].itertuples()])]

    def timeline(self) -> list[tuple]:
        """The anonymised deliberation timeline."""
        lines = []
        for row in self.frames["Timeline"].itertuples():
            when, until = clock(row.at), clock(row.until)
            if until and until != when:
                # The end of a run: only the time when it is the same day.
                when += "–" + (until[11:] if until[:10] == when[:10] else until)
            who = role_label(row.actor_role) + (f", {row.helix}" if row.helix else "")
            lines.append((row.summary, f"{when}, {who}"))
        out = [("h1", _("Deliberation timeline")),
               ("p", _("Every event of the record in order (times in UTC). Crowds of joins, "
                       "comments and ballot changes are summarised per run; nobody is named."))]
        return out + ([("notes", lines)] if lines else [])
