"""Voting results of a workshop, computed from plain pandas frames.

Why a separate, pure module: the live results pushed over Socket.IO, the spreadsheet/document
exports and the JSON deliberation record must all show the *same* numbers, so they all call these
functions. Nothing here imports Flask, the database or the rest of the package (but the pure
`edp.i18n`): the inputs are ordinary DataFrames, so results can be recomputed at any time from
the event log (or from a test fixture) and a published result can be re-derived independently.

Everything is vectorised because the live view recomputes results a few times a second with up
to a few thousand participants and about fifty domains (dot results for 3,000 participants x 10
votes over 50 domains take about 10 ms). A participant belongs to one helix: the helix is looked
up once per participant_id rather than hashed on every ballot row.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .i18n import fold_accents

VOTE_COLUMNS = ["participant_id", "helix", "domain_id", "points"]
SCORE_COLUMNS = ["participant_id", "helix", "domain_id", "criterion", "value"]
RANK_COLUMNS = ["participant_id", "helix", "domain_id", "position"]

METHODS = ("dot", "score", "rank")

# Largest number of booleans materialised at once while counting Schulze pairwise preferences.
_SCHULZE_CHUNK_CELLS = 4_000_000

# "Polarised" compares helices on *relative* support: what a helix gives a domain divided by what
# that helix gives the average domain. A domain is polarised when it matters to one helix
# (relative support at least MATTERS_FROM, half as much again as its average) and does not
# matter to another (relative support below MATTERS_NOT_BELOW, under a quarter of its average).
MATTERS_FROM = 1.5
MATTERS_NOT_BELOW = 0.25
# Float noise on a ratio that sits exactly on a threshold (3 vs an average of 2) must not flip it.
_RATIO_EPS = 1e-9
# A helix is under-represented when fewer than this share of the mean per-helix presence joined.
UNDER_REPRESENTED_BELOW = 0.5


def frame_of_rows(rows, columns: list[str]) -> pd.DataFrame:
    """Rows (tuples, or database rows) as a frame, built column by column: several times
    faster than pandas' row-by-row construction at tens of thousands of ballots."""
    return pd.DataFrame(dict(zip(columns, (list(c) for c in zip(*rows)), strict=True)))


def empty_frames() -> dict[str, pd.DataFrame]:
    """Empty ballot frames with the expected columns and dtypes (a workshop nobody voted in yet)."""

    def frame(columns: dict[str, object]) -> pd.DataFrame:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})

    return {
        "votes": frame({"participant_id": "int64", "helix": str, "domain_id": "int64",
                        "points": "int64"}),
        "scores": frame({"participant_id": "int64", "helix": str, "domain_id": "int64",
                         "criterion": str, "value": "int64"}),
        "rankings": frame({"participant_id": "int64", "helix": str, "domain_id": "int64",
                           "position": "int64"}),
    }


# --------------------------------------------------------------------------- helpers


def _positive_votes(votes: pd.DataFrame) -> pd.DataFrame:
    """Only rows with points > 0 are votes: a zero row is a withdrawn dot."""
    return votes[votes["points"] > 0]


def _usable_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Criteria that can carry a weighted mean (weight > 0); others cannot be normalised."""
    return {str(k): float(w) for k, w in weights.items() if w is not None and float(w) > 0}


def _clean_rankings(rankings: pd.DataFrame, domain_ids: Iterable[int]) -> pd.DataFrame:
    """Rankings restricted to `domain_ids`, positions re-numbered 1..k per participant.

    Dropping non-approved domains leaves gaps (1, 3, 4); Borda and Schulze need consecutive
    positions. A domain listed twice keeps its best position. Ties in position are broken by
    domain id so the result never depends on row order.
    """
    ids = set(domain_ids)
    r = rankings.loc[rankings["domain_id"].isin(ids), RANK_COLUMNS]
    r = r.sort_values(["participant_id", "position", "domain_id"], kind="stable")
    r = r.drop_duplicates(["participant_id", "domain_id"], keep="first")
    r = r.assign(position=r.groupby("participant_id").cumcount().astype("int64") + 1)
    return r.reset_index(drop=True)


def _helix_of(*frames: pd.DataFrame) -> pd.Series:
    """participant_id -> helix, from the ballot rows (a participant belongs to one helix).

    Looking the helix up once per participant and grouping on integers afterwards avoids
    hashing the helix strings of every ballot row, which dominated the recompute time.
    """
    parts = [f[["participant_id", "helix"]] for f in frames if len(f)]
    if not parts:
        return pd.Series(dtype=object, index=pd.Index([], dtype="int64"), name="helix")
    both = pd.concat(parts, ignore_index=True).drop_duplicates("participant_id")
    return both.dropna(subset=["helix"]).set_index("participant_id")["helix"]


def voters_by_helix(
    votes: pd.DataFrame, scores: pd.DataFrame, rankings: pd.DataFrame
) -> dict[str, int]:
    """Distinct participants per helix who cast anything (votes > 0, a score or a ranking row).

    Counted across all three frames, whatever the current method, so that switching methods
    does not change who "took part".
    """
    counts = _helix_of(_positive_votes(votes), scores, rankings).value_counts(sort=False)
    return {str(h): int(n) for h, n in sorted(counts.items()) if n > 0}


def _weighted_means(scores: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """(participant_id, domain_id, value) weighted means, without the helix column."""
    w = _usable_weights(weights)
    s = scores.loc[scores["value"].notna(), ["participant_id", "domain_id", "criterion", "value"]]
    codes, uniques = pd.factorize(s["criterion"])
    # Mapping through the few distinct criteria is much faster than Series.map on every row.
    lookup = np.array([w.get(str(c), np.nan) for c in uniques] + [np.nan], dtype=np.float64)
    weight = lookup[codes]  # code -1 (missing criterion) picks the trailing NaN
    keep = ~np.isnan(weight)
    s = s.loc[keep]
    weight = weight[keep]
    s = s.assign(w=weight, wv=weight * s["value"].to_numpy(dtype=np.float64))
    g = s.groupby(["participant_id", "domain_id"], sort=True)[["w", "wv"]].sum()
    return (g["wv"] / g["w"]).rename("value").reset_index()


def participant_scores(scores: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """Each participant's weighted mean value per domain (participant_id, helix, domain_id, value).

    Weights are normalised over the criteria the participant actually scored for that domain, so
    a partly scored domain gets the weighted mean of what was given rather than being pulled
    down by missing criteria. Criteria without a positive weight are ignored.
    """
    out = _weighted_means(scores, weights)
    helix = _helix_of(scores).reindex(out["participant_id"]).to_numpy()
    out = out.assign(helix=helix)
    return out[["participant_id", "helix", "domain_id", "value"]]


def _with_borda(clean: pd.DataFrame, m: int) -> pd.DataFrame:
    """Add Borda `points` (m - position) to already cleaned rankings."""
    return clean.assign(points=(m - clean["position"]).astype("int64"))


def borda_points(rankings: pd.DataFrame, domain_ids: Iterable[int]) -> pd.DataFrame:
    """Borda points per ranking row: position i of m domains earns m - i (unranked rows absent).

    Returns the cleaned rankings (RANK_COLUMNS, positions re-numbered 1..k) plus `points`.
    """
    ids = set(domain_ids)
    return _with_borda(_clean_rankings(rankings, ids), len(ids))


def _pairwise(r: pd.DataFrame, ids: list[int]) -> np.ndarray:
    """d[a, b] = number of ballots ranking a above b; ranked beats unranked, unranked tie."""
    m = len(ids)
    d = np.zeros((m, m), dtype=np.int64)
    if r.empty or m == 0:
        return d
    p_codes, _ = pd.factorize(r["participant_id"], sort=True)
    d_codes = pd.Index(ids).get_indexer(r["domain_id"])
    pos = np.full((int(p_codes.max()) + 1, m), np.inf)
    pos[p_codes, d_codes] = r["position"].to_numpy(dtype=np.float64)
    step = max(1, _SCHULZE_CHUNK_CELLS // (m * m))
    for start in range(0, pos.shape[0], step):
        chunk = pos[start:start + step]
        d += (chunk[:, :, None] < chunk[:, None, :]).sum(axis=0)
    return d


def _schulze_wins(d: np.ndarray) -> np.ndarray:
    """Number of other candidates each candidate beats on strongest (widest) paths."""
    p = np.where(d > d.T, d, 0)
    for i in range(p.shape[0]):
        # Row i and column i do not change during step i, so the vectorised update equals the
        # classic triple loop; the diagonal is never compared.
        p = np.maximum(p, np.minimum(p[:, i:i + 1], p[i:i + 1, :]))
    np.fill_diagonal(p, 0)
    return (p > p.T).sum(axis=1)


def _schulze_from_clean(clean: pd.DataFrame, ids: list[int]) -> list[int]:
    """Schulze order of sorted `ids` from already cleaned rankings."""
    if not ids:
        return []
    wins = _schulze_wins(_pairwise(clean, ids))
    order = sorted(range(len(ids)), key=lambda k: (-int(wins[k]), ids[k]))
    return [ids[k] for k in order]


def schulze_order(rankings: pd.DataFrame, domain_ids: Iterable[int]) -> list[int]:
    """Domain ids in Schulze order (most pairwise wins first, ties by ascending domain id).

    Shown next to Borda because Borda rewards broad support while Schulze respects majorities;
    a disagreement between the two is worth discussing in the room.
    """
    ids = sorted({int(i) for i in domain_ids})
    return _schulze_from_clean(_clean_rankings(rankings, ids), ids)


# --------------------------------------------------------------------------- results


# Small-group privacy: participants and the projector never see a helix with fewer voters than
# this on its own (a template's `min_group` may raise it, never lower it). Such helices are
# pooled into one bucket, OTHER_GROUPS, when together they reach the threshold, else left out
# of everything public (their ballots too, so no total minus the published parts recovers them).
MIN_GROUP = 3
OTHER_GROUPS = "_other"


def public_buckets(voters: Mapping[str, int], min_group: int) -> dict[str, str | None]:
    """Where each helix with voters is published: itself (at least `min_group` voters), the
    pooled OTHER_GROUPS bucket (the small helices together reach `min_group`) or None (left
    out). Every published bucket then holds at least `min_group` voters."""
    small = [str(h) for h, n in voters.items() if 0 < int(n) < min_group]
    pooled = sum(int(voters[h]) for h in small)
    out: dict[str, str | None] = {str(h): str(h) for h, n in voters.items()
                                  if int(n) >= min_group}
    for h in small:
        out[h] = OTHER_GROUPS if pooled >= min_group else None
    return out


def _public_helices(helices: list[str], buckets: Mapping[str, str | None],
                    pooled: bool) -> list[str]:
    """The display order once small helices are pooled: the helices shown on their own (and
    those nobody voted in, shown at 0), then the pool."""
    shown = [h for h in helices if buckets.get(h, h) == h and h != OTHER_GROUPS]
    return shown + ([OTHER_GROUPS] if pooled else [])


def _helix_order(helices: list[str], found: Iterable[str]) -> list[str]:
    """Configured helices first (display order), then unexpected keys found in ballots."""
    extra = sorted(set(found) - set(helices))
    return list(helices) + extra


def _table(series: pd.Series, ids: list[int], active: list[str]) -> pd.DataFrame:
    """A (domain_id, helix code) series as a domain x active-helix table, missing cells 0."""
    wide = series.unstack("h") if len(series) else pd.DataFrame(index=pd.Index(ids))
    wide = wide.reindex(index=ids, columns=range(len(active))).fillna(0.0).astype("float64")
    wide.columns = pd.Index(active)
    return wide


def results(
    method: str,
    domains: pd.DataFrame,
    votes: pd.DataFrame,
    scores: pd.DataFrame,
    rankings: pd.DataFrame,
    helices: list[str],
    weights: dict[str, float],
    *,
    present: Mapping[str, int] | None = None,
    min_group: int = 0,
) -> dict:
    """The `results` payload: per-domain scores, helix-balanced scores and participation.

    With `min_group` (> 1) the payload is the public one: helices with fewer voters are pooled
    or left out as `public_buckets` says, and every number is computed from the ballots of the
    published buckets only (see "Small-group privacy" in docs/protocol.md).

    The balanced score gives every helix with voters the same say, so a crowded helix cannot
    decide the ranking alone; the plain score is shown next to it.

    Besides the contract keys (`method`, `ranking` entries with `domain_id`, `title`, `score`,
    `balanced_score`, `by_helix`, `voters`; `participation`; `schulze` for rank), the payload
    carries what guards against wish lists and one-helix capture, all over the helices with
    voters (the "active" helices). Apart from `consensus`, it is read off `by_helix`, so, like
    the balanced score, none of it changes when a helix merely brings more people:

    - `supporting_helices`: active helices with `by_helix[h] > 0`.
    - `consensus` in [0, 1], or None with fewer than two active helices (nothing to agree
      across; in the public payload, fewer than two published buckets) and, under the score
      method, for a domain nobody scored: Pol.is's
      group-informed consensus (Small, Bjorkegren, Erkkilä, Shaw and Megill 2021, "Polis:
      Scaling Deliberation by Mapping High Dimensional Opinion Spaces", Recerca 26(2)), with
      the helices as the groups. See `group_consensus` for the formula and why it is a
      geometric mean, and `_support_counts` for what counts as support under each method.
      Unlike a min / max ratio, one helix that gave a domain nothing does not make it 0, and
      a domain a single helix supports gets less than one every helix supports as much.
    - `spread`: `max(by_helix) - min(by_helix)`, in the method's own units (0.0 without voters).
    - `polarised`: helices disagree strongly about the domain. Each helix is compared with
      itself: its relative support for a domain is `by_helix[h]` divided by the mean of
      `by_helix[h]` over all domains. The domain is polarised when it clearly matters to one
      active helix (relative support >= `MATTERS_FROM`, 1.5) while another active helix gives it
      less than a quarter of its own average (< `MATTERS_NOT_BELOW`, 0.25). Why not "low
      consensus": consensus is low both for a domain that splits the helices and for one that
      nobody much supports, and a small helix that puts all its points on one or two domains
      gives the others 0 (an absolute comparison would flag almost every domain, which tells
      the facilitator nothing). Comparing each helix with its own average asks instead "is
      this a favourite of some group and a non-topic for another?". A helix that gave no
      domain anything has no average and takes no side. Never true with fewer than two active
      helices or a single domain.
    - `one_helix`: at least two active helices, but all the support comes from exactly one.
      Independent of `polarised` (a helix that spreads its support evenly supports a
      one-helix domain no more than its average).

    Payload-level:

    - `totals`: `voters` = participants who cast anything (the sum of `participation`);
      `ballots` = participant-domain ballots counted by the current method (a dot allocation,
      a scored domain, a ranked domain), i.e. the sum of the entries' `voters`.
    - `warnings`: machine-readable dicts, in this order: `under_represented` per helix (only
      when `present`, the participants joined per helix, is given; see `representation`),
      then per domain in ranking order `{"code": "one_helix", "domain_id", "helix"}` or, for
      a polarised domain that is not one-helix, `{"code": "polarised", "domain_id", "high",
      "low"}` where `high` lists the helices it matters to and `low` those it does not matter
      to (display order), so the warning can say who disagrees.
    """
    if method not in METHODS:
        raise ValueError(f"unknown voting method: {method!r}")
    dom = domains.drop_duplicates("domain_id").sort_values("domain_id", kind="stable")
    ids = [int(i) for i in dom["domain_id"]]
    titles = {int(i): str(t) for i, t in zip(dom["domain_id"], dom["title"])}
    idset = set(ids)

    votes = _positive_votes(votes.loc[votes["domain_id"].isin(idset)])
    scores = scores.loc[
        scores["domain_id"].isin(idset)
        & scores["criterion"].isin(list(_usable_weights(weights)))
        & scores["value"].notna()
    ]
    rankings = _clean_rankings(rankings, idset)

    helix_of = _helix_of(votes, scores, rankings)
    voters = {str(h): int(n) for h, n in helix_of.value_counts(sort=False).items() if n > 0}
    if min_group > 1:
        buckets = public_buckets(voters, min_group)
        helix_of = helix_of.astype(str).map(buckets).dropna()
        kept = set(helix_of.index)
        votes = votes.loc[votes["participant_id"].isin(kept)]
        scores = scores.loc[scores["participant_id"].isin(kept)]
        rankings = rankings.loc[rankings["participant_id"].isin(kept)]
        voters = {str(h): int(n) for h, n in helix_of.value_counts(sort=False).items()}
        helices = _public_helices(helices, buckets, OTHER_GROUPS in voters)
    order = _helix_order(helices, voters)
    participation = {h: voters.get(h, 0) for h in order}
    active = [h for h in order if participation[h] > 0]

    if method == "dot":
        rows = votes[["participant_id", "domain_id", "points"]].rename(columns={"points": "x"})
    elif method == "score":
        rows = _weighted_means(scores, weights).rename(columns={"value": "x"})
    else:
        rows = _with_borda(rankings, len(ids))[["participant_id", "domain_id", "points"]]
        rows = rows.rename(columns={"points": "x"})
    # Helix as an integer code (index into `active`, -1 if unknown), looked up per participant.
    code_of = pd.Index(active).get_indexer(helix_of.astype(str))
    at = pd.Index(helix_of.index).get_indexer(rows["participant_id"])
    codes = np.append(code_of, -1)[at]  # at == -1 (no helix) picks the trailing -1
    rows = rows.assign(x=rows["x"].astype("float64"), h=codes)

    per_domain = rows.groupby("domain_id")
    domain_voters = per_domain["participant_id"].nunique().reindex(ids, fill_value=0)
    helix_rows = rows[rows["h"] >= 0].groupby(["domain_id", "h"])["x"]
    if method == "score":
        # Mean of the participants' weighted means, overall and within each helix.
        score = per_domain["x"].mean().reindex(ids, fill_value=0.0)
        by_helix = _table(helix_rows.mean(), ids, active)
    else:
        # Totals; per helix divided by the helix's voters so big helices do not dominate.
        score = per_domain["x"].sum().reindex(ids, fill_value=0.0)
        by_helix = _table(helix_rows.sum(), ids, active)
        if active:
            by_helix = by_helix.div([float(participation[h]) for h in active], axis=1)
    schulze = _schulze_from_clean(rankings, ids) if method == "rank" else None
    support, asked = _support_counts(method, rows, ids, active, participation)
    return _assemble(method, ids, titles, score, by_helix, domain_voters, participation, active,
                     present, schulze, _consensus(support, asked, active))


def dot_results_from_totals(
    domains: pd.DataFrame,
    totals: pd.DataFrame,
    participation_found: Mapping[str, int],
    helices: list[str],
    *,
    present: Mapping[str, int] | None = None,
    min_group: int = 0,
) -> dict:
    """The dot method's `results` from per-(domain, helix) totals instead of every ballot.

    Why: the live results are recomputed several times a second, and with thousands of
    participants reading every vote row costs ten times the arithmetic. The database sums
    instead (`totals`: `domain_id`, `helix`, `points` = the helix's points on the domain,
    `voters` = its participants with points on it; `participation_found`: participants per
    helix with points on any of `domains`). Equal to `results("dot", ...)` over the same
    ballots when no score or ranking rows exist (a property test holds the two equal).
    """
    dom = domains.drop_duplicates("domain_id").sort_values("domain_id", kind="stable")
    ids = [int(i) for i in dom["domain_id"]]
    titles = {int(i): str(t) for i, t in zip(dom["domain_id"], dom["title"])}
    t = totals.loc[totals["domain_id"].isin(set(ids)) & (totals["points"] > 0)]
    voters = {str(h): int(n) for h, n in participation_found.items() if n > 0}
    if min_group > 1:  # the public payload: see `results`
        buckets = public_buckets(voters, min_group)
        t = t.assign(helix=t["helix"].astype(str).map(buckets)).dropna(subset=["helix"])
        t = t.groupby(["domain_id", "helix"], as_index=False)[["points", "voters"]].sum()
        pooled: dict[str, int] = {}
        for h, n in voters.items():
            if buckets.get(h):
                pooled[buckets[h]] = pooled.get(buckets[h], 0) + n
        voters = pooled
        helices = _public_helices(helices, buckets, OTHER_GROUPS in voters)
    order = _helix_order(helices, voters)
    participation = {h: voters.get(h, 0) for h in order}
    active = [h for h in order if participation[h] > 0]
    per_domain = t.groupby("domain_id")
    score = per_domain["points"].sum().astype("float64").reindex(ids, fill_value=0.0)
    domain_voters = per_domain["voters"].sum().reindex(ids, fill_value=0)
    codes = pd.Index(active).get_indexer(t["helix"].astype(str))
    t = t.assign(h=codes, x=t["points"].astype("float64"))
    by_helix = _table(t[t["h"] >= 0].groupby(["domain_id", "h"])["x"].sum(), ids, active)
    if active:
        by_helix = by_helix.div([float(participation[h]) for h in active], axis=1)
    # Dot support: the helix's voters who gave the domain points, out of all its voters.
    support = _table(t[t["h"] >= 0].groupby(["domain_id", "h"])["voters"].sum(), ids, active)
    asked = _helix_voters(ids, active, participation)
    return _assemble("dot", ids, titles, score, by_helix, domain_voters, participation, active,
                     present, None, _consensus(support, asked, active))


def _assemble(
    method: str,
    ids: list[int],
    titles: dict[int, str],
    score: pd.Series,
    by_helix: pd.DataFrame,
    domain_voters: pd.Series,
    participation: dict[str, int],
    active: list[str],
    present: Mapping[str, int] | None,
    schulze: list[int] | None,
    consensus: list[float | None],
) -> dict:
    """The payload from the per-domain numbers (shared by `results` and the totals path)."""
    balanced = by_helix.mean(axis=1) if active else pd.Series(0.0, index=pd.Index(ids))

    bh = by_helix.to_numpy(dtype=np.float64)
    agreement = _agreement(bh, len(ids))
    high, low = _relative_extremes(bh)

    score_l = [float(x) for x in score.tolist()]
    balanced_l = [float(x) for x in balanced.reindex(ids).tolist()]
    voters_l = [int(x) for x in domain_voters.tolist()]
    helix_l = {h: [float(x) for x in by_helix[h].tolist()] for h in active}
    spread_l, supporting_l, polarised_l, one_helix_l = agreement
    ranking = [
        {
            "domain_id": d,
            "title": titles[d],
            "score": score_l[k],
            "balanced_score": balanced_l[k],
            "by_helix": {h: helix_l[h][k] for h in active},
            "voters": voters_l[k],
            "consensus": consensus[k],
            "spread": spread_l[k],
            "polarised": polarised_l[k],
            "one_helix": one_helix_l[k],
            "supporting_helices": supporting_l[k],
        }
        for k, d in enumerate(ids)
    ]
    ranking.sort(key=lambda e: (-e["score"], e["domain_id"]))

    warnings = representation(present, participation) if present is not None else []
    row_of = {d: k for k, d in enumerate(ids)}
    for e in ranking:
        if e["one_helix"]:
            helix = next(h for h, x in e["by_helix"].items() if x > 0)
            warnings.append({"code": "one_helix", "domain_id": e["domain_id"], "helix": helix})
        elif e["polarised"]:
            k = row_of[e["domain_id"]]
            warnings.append({
                "code": "polarised", "domain_id": e["domain_id"],
                "high": [h for j, h in enumerate(active) if high[k, j]],
                "low": [h for j, h in enumerate(active) if low[k, j]],
            })

    payload: dict = {"method": method, "ranking": ranking, "participation": participation}
    if schulze is not None:
        payload["schulze"] = schulze
    payload["totals"] = {"voters": sum(participation.values()), "ballots": sum(voters_l)}
    payload["warnings"] = warnings
    return payload


def _agreement(
    bh: np.ndarray, n_domains: int
) -> tuple[list[float], list[int], list[bool], list[bool]]:
    """Per-domain spread, supporting helices, polarised and one-helix flags.

    `bh` is the domain x active-helix `by_helix` table; see `results` for the definitions.
    """
    n_active = bh.shape[1] if bh.ndim == 2 else 0
    if n_active == 0:
        return [0.0] * n_domains, [0] * n_domains, [False] * n_domains, [False] * n_domains
    top = bh.max(axis=1)
    low = bh.min(axis=1)
    supporting = (bh > 0).sum(axis=1)
    several = n_active >= 2
    matters, does_not = _relative_extremes(bh)
    polarised = several & matters.any(axis=1) & does_not.any(axis=1)
    one_helix = several & (supporting == 1)
    return (
        [float(x) for x in (top - low).tolist()],
        [int(x) for x in supporting.tolist()],
        [bool(x) for x in polarised.tolist()],
        [bool(x) for x in one_helix.tolist()],
    )


def group_consensus(support: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """Pol.is's group-informed consensus per row, normalised to [0, 1] by a geometric mean.

    `support` and `asked` are domain x group arrays: s_h, how much support group h gave the
    domain, out of n_h members asked (0 <= s_h <= n_h; see `_support_counts`). Following
    Small, Bjorkegren, Erkkilä, Shaw and Megill (2021), "Polis: Scaling Deliberation by
    Mapping High Dimensional Opinion Spaces", Recerca 26(2), each group's support rate is
    Laplace-smoothed, p_h = (s_h + 1) / (n_h + 2), and Pol.is multiplies the p_h of all
    groups: a domain scores high only when every group supports it, yet a group that gave it
    nothing lowers the product instead of zeroing it (p_h > 0), and a group with few members
    weighs in with its uncertainty (one person of one is 2/3, not 1; a group nobody in which
    was asked is 1/2, neutral).

    The raw product shrinks with the number of groups (0.8 in each of five groups is 0.33, in
    each of two 0.64), so it cannot be read as a percentage nor compared between a workshop of
    three helices and one of six. Hence the geometric mean, the product's H-th root over the H
    groups: the same order of domains within a workshop (a monotone function of the product),
    a value in (0, 1) that equals the common rate when every group's p_h is the same, and a
    scale that means the same whatever the number of helices.
    """
    s = np.asarray(support, dtype=np.float64)
    n = np.asarray(asked, dtype=np.float64)
    rate = (s + 1.0) / (n + 2.0)
    return np.clip(np.exp(np.log(rate).mean(axis=1)), 0.0, 1.0)


def _consensus(support: pd.DataFrame, asked: pd.DataFrame,
               active: list[str]) -> list[float | None]:
    """`consensus` per domain (rows of the tables). None with fewer than two active helices
    (nothing to agree across) and for a domain nobody was asked about (score: no helix scored
    it; its rates would all be the neutral 1/2, a number with nothing behind it)."""
    if len(active) < 2:
        return [None] * len(support.index)
    n = asked.to_numpy(dtype=np.float64)
    value = group_consensus(support.to_numpy(dtype=np.float64), n)
    return [float(x) if k > 0 else None for x, k in zip(value.tolist(), n.sum(axis=1).tolist())]


def _helix_voters(ids: list[int], active: list[str],
                  participation: Mapping[str, int]) -> pd.DataFrame:
    """A domain x active-helix table holding each helix's voters in every row."""
    counts = np.array([float(participation[h]) for h in active], dtype=np.float64)
    return pd.DataFrame(np.tile(counts, (len(ids), 1)), index=pd.Index(ids),
                        columns=pd.Index(active))


def _support_counts(method: str, rows: pd.DataFrame, ids: list[int], active: list[str],
                    participation: Mapping[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(support, asked): domain x active-helix tables of s_h and n_h for `group_consensus`.

    `rows` are `results`' per-participant rows (`participant_id`, `domain_id`, `x` = the
    participant's points, weighted mean or Borda points on the domain, `h` = helix code).
    Support is what one participant gives, in [0, 1], summed over the helix:

    - dot: n_h = the helix's voters; s_h = those of them who gave the domain points (a dot
      is a yes, however many points: who supports it, not how loudly).
    - score: n_h = the helix's participants who scored this domain; s_h = the sum of their
      (weighted mean - 1) / 4, so 1 is no support and 5 full support. A helix nobody in which
      scored the domain has n_h = 0 and p_h = 1/2, neutral: not having scored a domain is not
      a score of 0.
    - rank: n_h = the helix's voters; s_h = the sum of their normalised Borda positions
      (m - i) / (m - 1) for position i of m domains (first 1, last 0, unranked 0; m = 1
      gives 1).
    """
    mine = rows[rows["h"] >= 0]
    keys = ["domain_id", "h"]
    if method == "dot":
        return (_table(mine.groupby(keys)["participant_id"].nunique(), ids, active),
                _helix_voters(ids, active, participation))
    if method == "score":
        given = mine.assign(x=((mine["x"] - 1.0) / 4.0).clip(0.0, 1.0)).groupby(keys)["x"]
        return _table(given.sum(), ids, active), _table(given.count(), ids, active)
    m = len(ids)
    position = mine["x"] / (m - 1) if m > 1 else pd.Series(1.0, index=mine.index)
    given = mine.assign(x=position).groupby(keys)["x"]
    return _table(given.sum(), ids, active), _helix_voters(ids, active, participation)


def _relative_extremes(bh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Domain x helix masks: the domain matters to the helix / does not matter to it.

    Relative support is `bh[d, h] / mean_d(bh[:, h])`; a helix whose mean is 0 (it gave no
    domain anything) has no relative support and is in neither mask. Compared as
    `bh >= t * mean` rather than dividing, so exact thresholds are not lost to rounding.
    """
    if bh.ndim != 2 or bh.shape[0] == 0 or bh.shape[1] == 0:
        empty = np.zeros(bh.shape if bh.ndim == 2 else (0, 0), dtype=bool)
        return empty, empty.copy()
    mean = bh.mean(axis=0, keepdims=True)
    has_average = mean > 0
    tolerance = _RATIO_EPS * mean
    matters = has_average & (bh >= MATTERS_FROM * mean - tolerance)
    does_not = has_average & (bh < MATTERS_NOT_BELOW * mean - tolerance)
    return matters, does_not


def representation(present: Mapping[str, int], participation: Mapping[str, int]) -> list[dict]:
    """Warnings for helices that are under-represented in the room.

    `present` is the number of participants who joined, per helix, and should list every helix
    of the workshop (0 for a helix nobody joined); `participation` is the voters per helix.
    The yardstick is the mean presence over all helices in `present`, empty ones included: a
    helix is under-represented when fewer than half that mean joined
    (`present[h] < UNDER_REPRESENTED_BELOW * mean`). A helix nobody joined is therefore always
    flagged once anyone has joined; with nobody present nothing is flagged.

    Returns `{"code": "under_represented", "helix": h, "present": n, "voters": m}` dicts in the
    order of `present`.
    """
    counts = {str(h): max(0, int(n or 0)) for h, n in present.items()}
    if not counts:
        return []
    mean = sum(counts.values()) / len(counts)
    return [
        {"code": "under_represented", "helix": h, "present": n,
         "voters": int(participation.get(h, 0))}
        for h, n in counts.items()
        if n < UNDER_REPRESENTED_BELOW * mean
    ]


# --------------------------------------------------------------------------- rounds compared

# How a domain fared from one round of a continuous EDP to the next (`edp.processes`).
KEPT, ADDED, DROPPED = "kept", "added", "dropped"


def round_summary(
    results: Mapping[str, Any], priorities: Mapping[int, Mapping[str, Any]] | None = None
) -> dict[int, dict[str, Any]]:
    """Per domain id: the round's own numbers plus two normalisations that make rounds
    comparable.

    Raw scores are not comparable across rounds: points depend on the budget and the head
    count, Borda points on the number of domains, and criterion scores live on a 1..5 scale.
    Hence:

    - `support`: the domain's share of the round's total helix-balanced score,
      `balanced_score / sum(balanced_score)` over the round's approved domains (0..1; None when
      nobody voted). Shares of the same round add up to 1 whatever the method or budget.
    - `split`: the domain's helix split, `by_helix[h] / sum(by_helix)` for this domain: which
      share of its (per-voter) support came from each helix. Head counts do not weigh in,
      because `by_helix` is already divided by each helix's voters.
    - `consensus` is taken as computed (already on a 0..1 scale that does not depend on the
      method, the budget or the number of helices; see `group_consensus`); None, like `rank`,
      when nobody voted in the round, and None as computed with fewer than two helices voting.

    `rank` is the position in the results ranking (score descending, ties by domain id);
    `priority` the decided priority (`rank`, `rationale`, `indicators`) or None. Pure: takes a
    `results` payload (`workshop.compute_results`) and plain dicts, touches no database."""
    ranking = list(results.get("ranking") or [])
    voted = sum(int(n) for n in (results.get("participation") or {}).values()) > 0
    total = sum(max(0.0, float(e["balanced_score"])) for e in ranking)
    out: dict[int, dict[str, Any]] = {}
    for position, e in enumerate(ranking, start=1):
        by_helix = {str(h): float(x) for h, x in (e.get("by_helix") or {}).items()}
        helix_total = sum(max(0.0, x) for x in by_helix.values())
        out[int(e["domain_id"])] = {
            "title": e.get("title", ""),
            "rank": position if voted else None,
            "score": float(e["score"]),
            "balanced_score": float(e["balanced_score"]),
            "support": float(e["balanced_score"]) / total if voted and total > 0 else None,
            "consensus": _number(e.get("consensus")) if voted else None,
            "by_helix": by_helix,
            "split": {h: (max(0.0, x) / helix_total if helix_total > 0 else None)
                      for h, x in by_helix.items()},
            "voters": int(e.get("voters", 0)),
            "priority": dict(priorities[e["domain_id"]]) if priorities and
            e["domain_id"] in priorities else None,
        }
    return out


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def normalise_title(title: str) -> str:
    """Lower case, no accents, punctuation and runs of spaces folded: "Riego  de precisión."
    and "riego de precision" match."""
    return " ".join(re.sub(r"[^\w]+", " ", fold_accents(title).casefold()).split())


def match_domains(
    earlier: Mapping[int, str], later: Mapping[int, str], lineage: Mapping[int, int | None]
) -> list[tuple[int | None, int | None]]:
    """Pairs (earlier id, later id) over two rounds' domains ({id: title}, in display order).

    A later domain matches the earlier domain its chain of carried domains reaches (`lineage`:
    later id -> earlier-round id, or None); the rest match by `normalise_title`, first come
    first served. Unmatched domains pair with None: (None, id) was added, (id, None) dropped."""
    pairs: list[tuple[int | None, int | None]] = []
    used: set[int] = set()
    matched: dict[int, int] = {}
    for lid in later:
        eid = lineage.get(lid)
        if eid is not None and eid in earlier and eid not in used:
            matched[lid] = eid
            used.add(eid)
    free: dict[str, list[int]] = {}
    for eid, title in earlier.items():
        if eid not in used:
            free.setdefault(normalise_title(title), []).append(eid)
    for lid, title in later.items():
        if lid not in matched and free.get(normalise_title(title)):
            eid = free[normalise_title(title)].pop(0)
            matched[lid] = eid
            used.add(eid)
    pairs += [(matched.get(lid), lid) for lid in later]
    pairs += [(eid, None) for eid in earlier if eid not in used]
    return pairs


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def comparison_frame(
    earlier: Mapping[int, Mapping[str, Any]],
    later: Mapping[int, Mapping[str, Any]],
    pairs: Sequence[tuple[int | None, int | None]],
    helices: Sequence[str],
) -> pd.DataFrame:
    """One row per matched pair: `round_summary` numbers of both rounds and their change.

    Columns: `title` (the later title when kept), `status` (kept/added/dropped),
    `earlier_domain_id`, `later_domain_id`, then for each of `rank`, `score`, `balanced_score`,
    `support`, `consensus`, `priority` (the decided rank) an `earlier_` and a `later_` column,
    `support_change` and `consensus_change` (later minus earlier), and per helix `h`:
    `split_<h>_earlier`, `split_<h>_later`, `split_<h>_change`. Empty cells are None. Rows:
    kept and added domains in the later round's order, then dropped ones in the earlier round's.

    Only `support`, `split` and `consensus` compare across methods and budgets; `score` and
    `balanced_score` are the rounds' own units (see `round_summary`). Pure pandas."""
    rows = []
    for eid, lid in pairs:
        a = earlier.get(eid) if eid is not None else None
        b = later.get(lid) if lid is not None else None
        status = KEPT if a is not None and b is not None else (ADDED if b is not None else DROPPED)
        row: dict[str, Any] = {
            "title": (b or a or {}).get("title", ""),
            "status": status,
            "earlier_domain_id": eid if a is not None else None,
            "later_domain_id": lid if b is not None else None,
        }
        for key in ("rank", "score", "balanced_score", "support", "consensus"):
            row[f"earlier_{key}"] = a.get(key) if a else None
            row[f"later_{key}"] = b.get(key) if b else None
        row["support_change"] = _delta(row["earlier_support"], row["later_support"])
        row["consensus_change"] = _delta(row["earlier_consensus"], row["later_consensus"])
        row["earlier_priority"] = (a.get("priority") or {}).get("rank") if a else None
        row["later_priority"] = (b.get("priority") or {}).get("rank") if b else None
        for h in helices:
            x = (a.get("split") or {}).get(h) if a else None
            y = (b.get("split") or {}).get(h) if b else None
            row[f"split_{h}_earlier"], row[f"split_{h}_later"] = x, y
            row[f"split_{h}_change"] = _delta(x, y)
        rows.append(row)
    big = 10**9

    def order(row: dict[str, Any]) -> tuple:
        if row["status"] != DROPPED:
            rank = row["later_rank"]
            return (0, big if rank is None else rank, row["later_domain_id"])
        rank = row["earlier_rank"]
        return (1, big if rank is None else rank, row["earlier_domain_id"])

    rows.sort(key=order)
    columns = ["title", "status", "earlier_domain_id", "later_domain_id"]
    for key in ("rank", "score", "balanced_score", "support", "consensus"):
        columns += [f"earlier_{key}", f"later_{key}"]
    columns += ["support_change", "consensus_change", "earlier_priority", "later_priority"]
    for h in helices:
        columns += [f"split_{h}_earlier", f"split_{h}_later", f"split_{h}_change"]
    # Object columns keep ranks as ints and empty cells as None (not NaN).
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    frame.attrs["helices"] = list(helices)
    return frame
