"""Interregional pairing: compare two regions' priority lists and write a cooperation brief.

Regions pair with partner regions (the EU–Latin America pairings) to find where they can work
together. `compare` takes two JSON records (the `json` export, shaped by
`exports.record_dict`), so either side can be a workshop in this database or a file a partner
sent; it reads nothing else and writes nothing.

Each side's list is its decided priorities in rank order. A side that decided none is
represented by its top-ranked approved domains in the results (as many as its cap on
priorities), or, with no ballots yet, its approved domains; `Side.basis` says which, and the
brief says so in words.

For every pair of domains (one from each list):

- SDG overlap: the goals both domains are tagged with, and their Jaccard index.
- Text similarity, 0..100 (rapidfuzz): the texts are lower-cased, accent-folded and stripped
  of a few stop words (Spanish, Portuguese and English function words, and words nearly every
  S3 domain carries, such as "sustainable" or "innovation"); the similarity is the higher of
  `token_sort_ratio` on the titles (near-duplicate titles in any word order) and
  `token_set_ratio` on title plus description (shared vocabulary). The similarity is lexical:
  Spanish and Portuguese titles often still match ("Valorización de residuos" / "Valorização de
  resíduos"), but an English title and a Spanish one on the same topic rarely do, so such pairs
  rely on their SDG tags (they come out complementary rather than shared).

Then the domains are classified:

- shared: a one-to-one match, best pairs first (greedy by similarity, then SDG overlap), with
  strong text similarity (`STRONG_TEXT`), or moderate similarity (`MODERATE_TEXT`) and at least
  one common SDG;
- complementary: an unmatched domain that addresses a goal the partner region pursues with a
  different domain (cooperation by complementarity: exchanges, complementary projects);
- distinct: the rest.

`brief_md` and `brief_docx` write the cooperation brief in the language asked for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from rapidfuzz import fuzz, process

from .exports import slug
from .exports.docx_writer import document
from .exports.md_writer import markdown
from .i18n import fold_accents
from .sdgs import sdg_label

# At or above this text similarity two domains are shared on their words alone: near-duplicate
# titles score 90-100 (also "Valorización de residuos agroindustriales" against its Portuguese
# "Valorização de resíduos agroindustriais", 92), while unrelated domains with their
# descriptions stayed at 35-65 in our trials.
STRONG_TEXT = 85.0
# From here to STRONG_TEXT the texts share real vocabulary ("Riego de precisión" / "Rega de
# precisão e gestão da água", 78), but the same range holds look-alike words with nothing in
# common ("agricultura" / "acuicultura", 64): a common SDG tag must confirm the match.
MODERATE_TEXT = 70.0
# A side without decided priorities shows this many top-ranked domains when its record has no
# cap on priorities.
FALLBACK_TOP = 5

# Words that say nothing about which domain it is: function words of the three languages and
# adjectives almost every S3 domain uses. Kept short on purpose (titles are a few words long).
STOP_WORDS = frozenset({
    "a", "al", "ao", "aos", "as", "con", "com", "da", "das", "de", "del", "do", "dos", "e", "el",
    "em", "en", "for", "from", "in", "la", "las", "los", "na", "nas", "no", "nos", "o", "of",
    "on", "or", "os", "para", "por", "the", "to", "um", "uma", "un", "una", "y", "and", "with",
    "sus", "seu", "sua", "their", "its", "sustainable", "sostenible", "sostenibles",
    "sustentable", "sustentables", "sustentavel", "sustentaveis", "innovation", "innovacion",
    "inovacao", "innovative", "innovador", "innovadora", "inovador", "inovadora", "regional",
    "region", "regiao", "local", "new", "nuevo", "nueva", "novo", "nova", "development",
    "desarrollo", "desenvolvimento",
})

STATUSES = ("shared", "complementary", "distinct")
BASES = ("priorities", "top_ranked", "approved")
FORMATS = ("md", "docx")
MIMETYPES = {  # no charset: the response adds it to text types
    "md": "text/markdown",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
}


class PairingError(ValueError):
    """A record too incomplete to compare (the message says what is missing)."""


@dataclass
class Entry:
    """One domain on a region's list."""

    side: str  # "ours" | "theirs"
    position: int  # its rank among the priorities (or its place in the results)
    title: str
    description: str = ""
    sdgs: list[int] = field(default_factory=list)
    rationale: str = ""
    indicators: list[str] = field(default_factory=list)
    status: str = "distinct"
    match: int | None = None  # the partner's position, when shared
    # The domain's sectors of its region's diagnosis data, and those of them where that
    # region is specialised (RCA >= 1; edp/evidence.py).
    sectors: list[str] = field(default_factory=list)
    strengths: list[str] = field(default_factory=list)


@dataclass
class Side:
    region: str
    title: str
    code: str
    language: str
    basis: str  # one of BASES
    entries: list[Entry]

    @property
    def sdgs(self) -> list[int]:
        return sorted({n for e in self.entries for n in e.sdgs})

    def at(self, position: int) -> Entry | None:
        return next((e for e in self.entries if e.position == position), None)


@dataclass
class Pair:
    ours: Entry
    theirs: Entry
    similarity: float
    sdg_overlap: float
    common_sdgs: list[int]
    why: str  # "text" (strong similarity) | "text_and_sdgs" | "text_and_sectors"
    common_sectors: list[str] = field(default_factory=list)


@dataclass
class Link:
    entry: Entry  # the partner's domain
    common_sdgs: list[int]
    common_sectors: list[str] = field(default_factory=list)


@dataclass
class Complement:
    entry: Entry
    partners: list[Link]


@dataclass
class Comparison:
    ours: Side
    theirs: Side
    shared: list[Pair]
    complementary: list[Complement]
    distinct: list[Entry]
    compared_at: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def common_sdgs(self) -> list[int]:
        return sorted(set(self.ours.sdgs) & set(self.theirs.sdgs))

    @property
    def common_strengths(self) -> list[str]:
        """Sector codes in which both regions' listed domains show specialisation (RCA >= 1 in
        each region's own data; meaningful when both use the same classification)."""
        mine = {c for e in self.ours.entries for c in e.strengths}
        return sorted(mine & {c for e in self.theirs.entries for c in e.strengths})

    def side(self, name: str) -> Side:
        return self.ours if name == "ours" else self.theirs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the `--format json` of `edp workshop compare`)."""

        def entry(e: Entry) -> dict[str, Any]:
            return {"position": e.position, "title": e.title, "description": e.description,
                    "sdgs": e.sdgs, "rationale": e.rationale, "indicators": e.indicators,
                    "status": e.status, "match": e.match, "sectors": e.sectors,
                    "strengths": e.strengths}

        def side(s: Side) -> dict[str, Any]:
            return {"region": s.region, "title": s.title, "code": s.code,
                    "language": s.language, "basis": s.basis, "sdgs": s.sdgs,
                    "entries": [entry(e) for e in s.entries]}

        return {
            "format": "edp-live-comparison",
            "version": 1,
            "compared_at": self.compared_at.isoformat() + "Z",
            "thresholds": {"strong_text": STRONG_TEXT, "moderate_text": MODERATE_TEXT},
            "ours": side(self.ours),
            "theirs": side(self.theirs),
            "common_sdgs": self.common_sdgs,
            "common_strengths": self.common_strengths,
            "shared": [
                {"ours": p.ours.position, "theirs": p.theirs.position,
                 "ours_title": p.ours.title, "theirs_title": p.theirs.title,
                 "similarity": p.similarity, "sdg_overlap": p.sdg_overlap,
                 "common_sdgs": p.common_sdgs, "common_sectors": p.common_sectors,
                 "why": p.why}
                for p in self.shared
            ],
            "complementary": [
                {"side": c.entry.side, "position": c.entry.position, "title": c.entry.title,
                 "sdgs": c.entry.sdgs,
                 "partners": [{"position": x.entry.position, "title": x.entry.title,
                               "common_sdgs": x.common_sdgs,
                               "common_sectors": x.common_sectors} for x in c.partners]}
                for c in self.complementary
            ],
            "distinct": [{"side": e.side, "position": e.position, "title": e.title,
                          "sdgs": e.sdgs} for e in self.distinct],
        }


# ---------------------------------------------------------------- reading a record


def _sdgs(values: Any) -> list[int]:
    out = set()
    for v in values or []:
        try:
            n = int(v)
        except (TypeError, ValueError):
            continue
        if 1 <= n <= 17:
            out.add(n)
    return sorted(out)


def _indicator(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("name") or "")
    return str(item)


def _sectors(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A recorded domain's sector codes and those with RCA >= 1 in its evidence."""
    codes = [str(c) for c in d.get("sectors") or []]
    evidence = d.get("evidence") or {}
    strong = [str(s.get("code")) for s in evidence.get("sectors") or []
              if isinstance(s, dict) and isinstance(s.get("rca"), (int, float))
              and s["rca"] >= 1]
    return codes, strong


def side_of(record: dict[str, Any], name: str = "ours") -> Side:
    """A region's list from its record: the decided priorities, or (none decided) its
    top-ranked approved domains."""
    try:
        w = record["workshop"]
        domains = {str(d["domain_id"]): d for d in record.get("domains") or []}
        priorities = sorted(record.get("priorities") or [], key=lambda p: int(p["rank"]))
        entries: list[Entry] = []
        if priorities:
            basis = "priorities"
            for p in priorities:
                d = domains.get(str(p["domain_id"]), {})
                entries.append(Entry(
                    side=name, position=int(p["rank"]),
                    title=str(p.get("title") or d.get("title") or ""),
                    description=str(d.get("description") or ""), sdgs=_sdgs(d.get("sdgs")),
                    rationale=str(p.get("rationale") or ""),
                    indicators=[x for x in map(_indicator, p.get("indicators") or []) if x],
                    sectors=_sectors(d)[0], strengths=_sectors(d)[1]))
        else:
            top = int(w.get("max_priorities") or FALLBACK_TOP)
            ranking = (record.get("results") or {}).get("ranking") or []
            voted = [e for e in ranking if (e.get("voters") or 0) > 0]
            if voted:
                basis = "top_ranked"
                chosen = [(domains.get(str(e["domain_id"]), {}), e.get("title")) for e in voted]
            else:
                basis = "approved"
                chosen = [(d, d.get("title")) for d in domains.values()
                          if d.get("status", "approved") == "approved"]
            for n, (d, title) in enumerate(chosen[:top], start=1):
                entries.append(Entry(side=name, position=n, title=str(title or ""),
                                     description=str(d.get("description") or ""),
                                     sdgs=_sdgs(d.get("sdgs")), sectors=_sectors(d)[0],
                                     strengths=_sectors(d)[1]))
        return Side(region=str(w.get("region") or w.get("title") or ""),
                    title=str(w.get("title") or ""), code=str(w.get("code") or ""),
                    language=str(w.get("language") or "en"), basis=basis, entries=entries)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PairingError(f"the record is incomplete: {exc!r}") from exc


# ---------------------------------------------------------------- comparing


def normalise(text: str) -> str:
    """Lower case, accents folded, stop words and one-letter words left out:
    "Riego de precisión" -> "riego precision"."""
    folded = fold_accents(text).lower()
    words = re.findall(r"[^\W_]+", folded)
    return " ".join(w for w in words if len(w) > 1 and w not in STOP_WORDS)


def similarity_matrix(ours: list[Entry], theirs: list[Entry]) -> np.ndarray:
    """Text similarity 0..100 of every (ours, theirs) pair (see the module's docstring)."""
    if not ours or not theirs:
        return np.zeros((len(ours), len(theirs)))
    titles = process.cdist([normalise(e.title) for e in ours],
                           [normalise(e.title) for e in theirs],
                           scorer=fuzz.token_sort_ratio, dtype=np.float64)
    texts = process.cdist([normalise(f"{e.title} {e.description}") for e in ours],
                          [normalise(f"{e.title} {e.description}") for e in theirs],
                          scorer=fuzz.token_set_ratio, dtype=np.float64)
    return np.maximum(titles, texts)


def text_similarity(a: str, b: str, a_description: str = "", b_description: str = "") -> float:
    """The similarity of two domains' texts, as `compare` computes it."""
    matrix = similarity_matrix([Entry("ours", 1, a, a_description)],
                               [Entry("theirs", 1, b, b_description)])
    return float(matrix[0, 0])


def _jaccard(a: list[int], b: list[int]) -> float:
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else 0.0


def import_partner(data, ws, facilitator, checked: bool = False):
    """Import a partner region's record (the bytes of its JSON export, or the record already
    loaded) as a workshop of `facilitator`, marked as the partner of workshop `ws`; the caller
    commits. Raises `record.RecordError` or `PairingError` (nothing added) when it cannot be
    compared. `checked`: the record was already validated and compared-read."""
    from . import record

    loaded = data if isinstance(data, dict) else record.load(data)
    if not checked:
        side_of(loaded)  # the comparison can read it
    partner = record.import_record(loaded, facilitator, checked=checked)
    partner.settings = {**(partner.settings or {}), "partner_of": ws.id}
    return partner


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> Comparison:
    """Compare two records' priority lists (see the module's docstring for the rules)."""
    a, b = side_of(ours, "ours"), side_of(theirs, "theirs")
    matrix = similarity_matrix(a.entries, b.entries)
    candidates = []
    for i, x in enumerate(a.entries):
        for j, y in enumerate(b.entries):
            sim = round(float(matrix[i, j]), 1)
            common = sorted(set(x.sdgs) & set(y.sdgs))
            sectors = sorted(set(x.sectors) & set(y.sectors))
            if sim >= STRONG_TEXT:
                why = "text"
            elif sim >= MODERATE_TEXT and common:
                why = "text_and_sdgs"
            elif sim >= MODERATE_TEXT and sectors:  # the same economic sectors behind both
                why = "text_and_sectors"
            else:
                continue
            candidates.append(Pair(x, y, sim, round(_jaccard(x.sdgs, y.sdgs), 3), common, why,
                                   sectors))
    # Best pairs first; each domain is matched at most once.
    candidates.sort(key=lambda p: (-p.similarity, -p.sdg_overlap, p.ours.position,
                                   p.theirs.position))
    shared: list[Pair] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for p in candidates:
        if id(p.ours) in used_a or id(p.theirs) in used_b:
            continue
        used_a.add(id(p.ours))
        used_b.add(id(p.theirs))
        p.ours.status = p.theirs.status = "shared"
        p.ours.match, p.theirs.match = p.theirs.position, p.ours.position
        shared.append(p)
    shared.sort(key=lambda p: (p.ours.position, p.theirs.position))

    complementary: list[Complement] = []
    distinct: list[Entry] = []
    for mine, other in ((a, b), (b, a)):
        for e in mine.entries:
            if e.status == "shared":
                continue
            links = [Link(o, sorted(set(e.sdgs) & set(o.sdgs)),
                          sorted(set(e.sectors) & set(o.sectors))) for o in other.entries
                     if set(e.sdgs) & set(o.sdgs) or set(e.sectors) & set(o.sectors)]
            if links:
                e.status = "complementary"
                complementary.append(Complement(e, links))
            else:
                distinct.append(e)
    return Comparison(a, b, shared, complementary, distinct)


# ---------------------------------------------------------------- the cooperation brief
#
# Blocks, as in `exports`: ("title"|"h1"|"h2", text) ("p", text) ("facts", [(label, value)])
# ("bullets", [text]) ("labelled", label, text) ("table", head, rows).


def status_label(status: str) -> str:
    return {"shared": _("Shared"), "complementary": _("Complementary"),
            "distinct": _("Distinct")}.get(status, status)


def basis_text(side: Side) -> str:
    """What the side's list is, in words."""
    n = len(side.entries)
    if side.basis == "priorities":
        return _("%(n)s decided priorities", n=n)
    if side.basis == "top_ranked":
        return _("no priorities decided yet: its %(n)s top-ranked domains in the results", n=n)
    return _("no priorities decided and no votes yet: its %(n)s approved domains", n=n)


def _percent(value: float) -> str:
    return format_decimal(value, format="0.#") + "%"


def sdg_list(numbers: list[int]) -> str:
    return "; ".join(sdg_label(n) for n in numbers) or "–"


def _sdg_short(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers) or "–"


def why_text(pair: Pair) -> str:
    if pair.why == "text":
        return _("Very similar titles and descriptions")
    if pair.why == "text_and_sectors":
        return _("Similar titles and descriptions, and the same economic sectors")
    return _("Similar titles and descriptions, and common goals")


def next_steps(c: Comparison) -> list[str]:
    """Suggestions that follow from the comparison (what a facilitator would propose next)."""
    a, b = c.ours.region, c.theirs.region
    steps = []
    for p in c.shared:
        steps.append(_("Prepare a joint call or a joint project on “%(ours)s” (%(a)s) and "
                       "“%(theirs)s” (%(b)s); start from both regions' indicators.",
                       ours=p.ours.title, a=a, theirs=p.theirs.title, b=b))
    for comp in c.complementary:
        region, other = (a, b) if comp.entry.side == "ours" else (b, a)
        goals = sorted({s for x in comp.partners for s in x.common_sdgs})
        partners = "”, “".join(x.entry.title for x in comp.partners)
        if goals:
            steps.append(_("Organise an exchange of experience: “%(title)s” (%(region)s) with "
                           "“%(partners)s” (%(other)s), which pursue %(sdgs)s.",
                           title=comp.entry.title, region=region, partners=partners,
                           other=other,
                           sdgs=", ".join(_("SDG %(n)s", n=n) for n in goals)))
        else:  # linked through the economic sectors of both regions' data only
            steps.append(_("Organise an exchange of experience: “%(title)s” (%(region)s) with "
                           "“%(partners)s” (%(other)s), which build on the same sectors "
                           "(%(sectors)s).", title=comp.entry.title, region=region,
                           partners=partners, other=other, sectors=", ".join(
                               sorted({s for x in comp.partners for s in x.common_sectors}))))
    if c.common_strengths:
        steps.append(_("Both regions are specialised (RCA of at least 1 in their own data) in "
                       "sectors %(sectors)s: a base for joint value chains.",
                       sectors=", ".join(c.common_strengths)))
    if not c.shared and not c.complementary:
        steps.append(_("No common ground was found in the two lists: compare the regions' full "
                       "domain lists, or check the SDG tags, before planning joint work."))
    if c.distinct:
        steps.append(_("Keep the distinct domains as each region's own specialisation; "
                       "share their results so the partner can learn from them."))
    for side in (c.ours, c.theirs):
        if side.basis != "priorities":
            steps.append(_("%(region)s has not decided its priorities yet: compare again "
                           "after its decision.", region=side.region))
    return steps


def brief_title(c: Comparison) -> str:
    return _("Cooperation brief: %(a)s – %(b)s", a=c.ours.region, b=c.theirs.region)


def _blocks(c: Comparison) -> list[tuple]:
    a, b = c.ours, c.theirs
    out: list[tuple] = []
    add = out.append
    add(("title", brief_title(c)))
    add(("p", _("Entrepreneurial Discovery Process: the priorities of two partner regions "
                "compared, to find where they can cooperate.")))
    add(("facts", [
        (a.region, f"{a.title} ({basis_text(a)})"),
        (b.region, f"{b.title} ({basis_text(b)})"),
        (_("Date"), c.compared_at.strftime("%Y-%m-%d")),
        (_("Shared domains"), len(c.shared)),
        (_("Complementary domains"), len(c.complementary)),
        (_("Distinct domains"), len(c.distinct)),
        (_("Goals both regions pursue"), sdg_list(c.common_sdgs)),
    ]))

    add(("h1", _("The two priority lists side by side")))
    rows = []
    for n in range(max(len(a.entries), len(b.entries))):
        row: list[Any] = [n + 1]
        for side in (a, b):
            e = side.entries[n] if n < len(side.entries) else None
            row += ([f"{e.title} ({status_label(e.status)})", _sdg_short(e.sdgs)] if e
                    else ["", ""])
        rows.append(row)
    add(("table", ["#", a.region, _("SDGs"), b.region, _("SDGs")], rows))

    add(("h1", _("Shared domains")))
    if c.shared:
        add(("p", _("Domains both regions chose, matched one to one.")))
        add(("table", [a.region, b.region, _("Text similarity"), _("Common goals"), _("Why")],
             [[p.ours.title, p.theirs.title, _percent(p.similarity), sdg_list(p.common_sdgs),
               why_text(p)] for p in c.shared]))
    else:
        add(("p", _("No shared domains were found.")))

    add(("h1", _("Complementary domains")))
    if c.complementary:
        add(("p", _("Domains of one region that pursue goals the other region pursues with a "
                    "different domain: room for exchanges and complementary projects.")))
        add(("table", [_("Region"), _("Domain"), _("Partner domains with the same goals"),
                       _("Common goals")],
             [[c.side(comp.entry.side).region, comp.entry.title,
               "; ".join(x.entry.title for x in comp.partners),
               sdg_list(sorted({s for x in comp.partners for s in x.common_sdgs}))]
              for comp in c.complementary]))
    else:
        add(("p", _("No complementary domains were found.")))

    add(("h1", _("Distinct domains")))
    if c.distinct:
        add(("table", [_("Region"), _("Domain"), _("SDGs")],
             [[c.side(e.side).region, e.title, sdg_list(e.sdgs)] for e in c.distinct]))
    else:
        add(("p", _("Every domain is shared or complementary.")))

    add(("h1", _("Rationale of each region's priorities")))
    for side in (a, b):
        add(("h2", side.region))
        if side.basis != "priorities":
            add(("p", _("No priorities decided yet, so no rationale recorded.")))
            continue
        for e in side.entries:
            add(("labelled", f"{e.position}. {e.title}", e.rationale or "–"))
            if e.indicators:
                add(("p", _("Monitoring indicators") + ": " + "; ".join(e.indicators)))

    add(("h1", _("Suggested next steps")))
    add(("bullets", next_steps(c)))

    add(("h1", _("How the domains were compared")))
    add(("p", _("Domains are shared when their titles and descriptions are very similar "
                "(text similarity of at least %(strong)s%%), or similar (at least "
                "%(moderate)s%%) and tagged with a common Sustainable Development Goal; each "
                "domain is matched at most once. Text similarity compares words, not "
                "meanings: domains written in different languages are mostly related through "
                "their SDG tags.", strong=format_decimal(STRONG_TEXT, format="0"),
                moderate=format_decimal(MODERATE_TEXT, format="0"))))
    return out


def brief_md(comparison: Comparison, language: str = "en") -> bytes:
    """The cooperation brief as Markdown, in `language`. Needs an app context."""
    with force_locale(language):
        return markdown(_blocks(comparison))


def brief_docx(comparison: Comparison, language: str = "en") -> bytes:
    """The cooperation brief as a Word document, in `language`. Needs an app context."""
    with force_locale(language):
        return document(_blocks(comparison), brief_title(comparison), language)


def brief(comparison: Comparison, fmt: str, language: str = "en") -> tuple[bytes, str, str]:
    """(data, mimetype, filename) of the brief in `fmt` (md or docx)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown brief format: {fmt!r}")
    data = (brief_md if fmt == "md" else brief_docx)(comparison, language)
    return data, MIMETYPES[fmt], brief_filename(comparison, fmt)


def brief_filename(comparison: Comparison, fmt: str) -> str:
    return (f"edp-brief-{slug(comparison.ours.region, 30)}-"
            f"{slug(comparison.theirs.region, 30)}.{fmt}")
