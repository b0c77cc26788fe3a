"""The region's evidence beside each domain: its diagnosis data (region × sector values of
employment, exports, firms or patents) and the indexes computed from it.

The indexes come from the OEC's `economic-complexity` library (docs/evidence.md says why that
one): Balassa's revealed comparative advantage (`rca`, the location quotient), relatedness
density (`relatedness` over the `proximity` of sectors) and sector complexity (`complexity`,
the reflections method, only with at least MIN_REGIONS_COMPLEXITY regions). Nothing here
writes matrix arithmetic of its own beyond pivoting the table and reading the results.

Parsing and computing are pure (pandas, no Flask request); `load` stores a parsed table as the
workshop's one `Diagnosis` row (replacing an earlier one) and records the event, and the
caller commits: all or nothing.
"""
from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask_babel import gettext as _

from .extensions import db
from .models import Diagnosis, Workshop

REQUIRED = ("region", "sector", "value")
OPTIONAL = ("sector_name", "year")
# Sector complexity needs enough regions to say which sectors few of them can hold.
MIN_REGIONS_COMPLEXITY = 5
# Related strengths shown per sector.
RELATED_TOP = 3
# What one file may hold (50 regions × 300 sectors over a few years stays far below).
MAX_ROWS = 300_000
MAX_CODE = 40
MAX_NAME = 200
# Sectors one domain may be linked to.
MAX_SECTORS = 20


class DiagnosisError(ValueError):
    """A file that cannot be loaded; the message (already translated) names the row and the
    column at fault. Picklable, so it travels back from a worker process (edp/jobs.py)."""


@dataclass
class Table:
    """A checked diagnosis file: one row per region and sector (duplicates summed)."""

    frame: pd.DataFrame  # columns region, sector, sector_name, value
    year: int | None
    years: list[int]

    @property
    def regions(self) -> list[str]:
        return sorted(self.frame["region"].unique().tolist())


# ---------------------------------------------------------------- reading a file


def _read(data: bytes, filename: str) -> pd.DataFrame:
    suffix = Path(filename or "").suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False)
        else:
            text = data.decode("utf-8-sig")
            header = text.split("\n", 1)[0]
            sep = max((",", ";", "\t"), key=header.count)
            # Blank lines stay rows (dropped below) so that row numbers are the file's lines.
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep,
                                skipinitialspace=True, skip_blank_lines=False)
    except UnicodeDecodeError:
        raise DiagnosisError(_("The file is not UTF-8 text: save it as CSV (UTF-8) or as an "
                               "Excel workbook (.xlsx).")) from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DiagnosisError(_("The file could not be read as %(kind)s: %(problem)s",
                               kind="XLSX" if suffix.startswith(".xls") else "CSV",
                               problem=str(exc).splitlines()[0][:200])) from None
    except Exception as exc:  # noqa: BLE001  (a broken workbook raises zipfile / openpyxl errors)
        raise DiagnosisError(_("The file could not be read: %(problem)s",
                               problem=str(exc).splitlines()[0][:200] if str(exc) else
                               type(exc).__name__)) from None
    frame = frame.fillna("")
    blank = frame.astype(str).apply(lambda col: col.str.strip()).eq("").all(axis=1)
    return frame[~blank]


def _bad(row: int, column: str, problem: str) -> DiagnosisError:
    return DiagnosisError(_("Row %(row)s, column “%(column)s”: %(problem)s",
                            row=row, column=column, problem=problem))


def parse(data: bytes, filename: str = "diagnosis.csv") -> Table:
    """Read and check a diagnosis file (CSV or XLSX): header names in any case, a numeric
    `value` of at least 0 on every row. The first problem found stops it, naming the file's
    row (the header is row 1) and the column; nothing is half-read."""
    frame = _read(data, filename)
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DiagnosisError(_("The column “%(column)s” appears twice.", column=dup))
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DiagnosisError(_("The file has no column “%(column)s” (it needs region, sector "
                               "and value; its columns are: %(found)s).", column=missing[0],
                               found=", ".join(map(str, frame.columns)) or "—"))
    if frame.empty:
        raise DiagnosisError(_("The file has no rows of data."))
    if len(frame) > MAX_ROWS:
        raise DiagnosisError(_("The file has %(n)s rows; at most %(max)s are accepted.",
                               n=len(frame), max=MAX_ROWS))
    out = pd.DataFrame(index=frame.index)
    for column, limit in (("region", MAX_NAME), ("sector", MAX_CODE)):
        values = frame[column].astype(str).str.strip()
        empty = values.eq("")
        if empty.any():
            raise _bad(int(empty.idxmax()) + 2, column, _("it is empty."))
        long = values.str.len().gt(limit)
        if long.any():
            raise _bad(int(long.idxmax()) + 2, column,
                       _("longer than %(max)s characters.", max=limit))
        out[column] = values
    if "sector_name" in frame.columns:
        out["sector_name"] = frame["sector_name"].astype(str).str.strip().str.slice(0, MAX_NAME)
    else:
        out["sector_name"] = ""
    raw = frame["value"].astype(str).str.strip().str.replace(" ", "", regex=False)
    value = pd.to_numeric(raw, errors="coerce")
    # A decimal comma ("12,5") where no point is used at all.
    comma = value.isna() & raw.str.fullmatch(r"-?\d+,\d+")
    value[comma] = pd.to_numeric(raw[comma].str.replace(",", ".", regex=False))
    bad = value.isna() | ~np.isfinite(value.fillna(0))
    if bad.any():
        i = int(bad.idxmax())
        raise _bad(i + 2, "value", _("“%(text)s” is not a number.", text=str(frame.at[i, "value"])[:40]))
    negative = value.lt(0)
    if negative.any():
        i = int(negative.idxmax())
        raise _bad(i + 2, "value", _("%(value)s is below 0.", value=frame.at[i, "value"]))
    out["value"] = value.astype(float)
    years: list[int] = []
    year = None
    if "year" in frame.columns:
        raw_year = frame["year"].astype(str).str.strip()
        number = pd.to_numeric(raw_year, errors="coerce")
        bad = raw_year.ne("") & (number.isna() | (number % 1 != 0) | ~number.between(1900, 2100))
        if bad.any():
            i = int(bad.idxmax())
            raise _bad(i + 2, "year", _("“%(text)s” is not a year.", text=raw_year[i][:40]))
        if number.notna().any():
            years = sorted({int(y) for y in number.dropna()})
            year = years[-1]
            # Several years: the latest one is the diagnosis; rows without a year count in it.
            out = out[number.isna() | number.eq(year)]
    names = (out[out["sector_name"].ne("")].groupby("sector")["sector_name"].first())
    out = out.groupby(["region", "sector"], as_index=False, sort=True)["value"].sum()
    out["sector_name"] = out["sector"].map(names).fillna("")
    if out["region"].nunique() < 2:
        raise DiagnosisError(_("The file holds one region only: specialisation compares a "
                               "region with others, so it needs at least two."))
    if out["value"].sum() <= 0:
        raise DiagnosisError(_("Every value in the file is 0."))
    return Table(frame=out, year=year, years=years)


def match_region(table_regions: list[str], wanted: str) -> str:
    """The file's spelling of `wanted` (compared without case or surrounding spaces)."""
    key = (wanted or "").strip().casefold()
    for name in table_regions:
        if name.casefold() == key:
            return name
    shown = ", ".join(table_regions[:8]) + (" …" if len(table_regions) > 8 else "")
    if not key:
        raise DiagnosisError(_("Say which region is the workshop's (--region): the file has "
                               "%(regions)s.", regions=shown))
    raise DiagnosisError(_("The region “%(region)s” is not in the file's column “region” "
                           "(it has %(regions)s).", region=wanted, regions=shown))


# ---------------------------------------------------------------- storing


def pack(table: Table) -> dict[str, Any]:
    """The table as the compact JSON the `Diagnosis` row keeps."""
    regions = table.regions
    sectors = (table.frame.drop_duplicates("sector").sort_values("sector")
               [["sector", "sector_name"]])
    r_index = {r: i for i, r in enumerate(regions)}
    s_index = {s: i for i, s in enumerate(sectors["sector"])}
    f = table.frame
    values = [[r_index[r], s_index[s], (int(v) if float(v).is_integer() else float(v))]
              for r, s, v in zip(f["region"], f["sector"], f["value"]) if v]
    return {"regions": regions,
            "sectors": [[c, n] for c, n in zip(sectors["sector"], sectors["sector_name"])],
            "values": values, "years": table.years}


def diagnosis_of(ws: Workshop) -> Diagnosis | None:
    return db.session.scalar(sa.select(Diagnosis).where(Diagnosis.workshop_id == ws.id))


def store(ws: Workshop, table: Table, region: str | None = None, source: str = "",
          actor: str = "facilitator") -> Diagnosis:
    """Make `table` the workshop's diagnosis (replacing an earlier one) and record it; the
    caller commits. The region is `region`, else the workshop's own."""
    from .workshop import record

    name = match_region(table.regions, region if region else ws.region)
    earlier = diagnosis_of(ws)
    if earlier is not None:
        db.session.delete(earlier)
        db.session.flush()
    diag = Diagnosis(workshop_id=ws.id, region=name, source=(source or "")[:300],
                     year=table.year, data=pack(table))
    db.session.add(diag)
    db.session.flush()
    record(ws, "diagnosis", actor, region=name, source=diag.source, year=diag.year,
           regions=len(diag.data["regions"]), sectors=len(diag.data["sectors"]),
           replaced=earlier is not None)
    forget(ws.id)
    return diag


def load(ws: Workshop, data: bytes, filename: str, region: str | None = None,
         source: str | None = None) -> Diagnosis:
    """Parse a file and store it (the caller commits; a refused file changes nothing)."""
    table = parse(data, filename)
    return store(ws, table, region, source if source else Path(filename).name)


# ---------------------------------------------------------------- the indexes


def _round(x: Any, digits: int) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, digits)


def matrix(data: dict[str, Any]) -> pd.DataFrame:
    """Regions × sector codes (zeros where the file has nothing)."""
    regions, sectors = data["regions"], [c for c, _n in data["sectors"]]
    values = np.zeros((len(regions), len(sectors)))
    if data["values"]:
        triples = np.asarray(data["values"], dtype=float)
        np.add.at(values, (triples[:, 0].astype(int), triples[:, 1].astype(int)), triples[:, 2])
    return pd.DataFrame(values, index=regions, columns=sectors)


def _proximity(ec, rca: pd.DataFrame) -> pd.DataFrame:
    """The library's proximity of sectors (Hidalgo et al. 2007, the "max" form). Its
    `proximity` writes into `DataFrame.values`, read-only under pandas 3; `cross_proximity`
    of the matrix with itself is the same φ (minimum of the two conditional probabilities)
    with 1 on the diagonal, which proximity sets to 0."""
    try:
        return ec.proximity(rca)
    except ValueError:
        phi = ec.cross_proximity(rca, rca)
        values = phi.to_numpy(copy=True)
        np.fill_diagonal(values, 0)
        return pd.DataFrame(values, index=phi.index, columns=phi.columns)


def indexes(table: pd.DataFrame, region: str,
            names: dict[str, str] | None = None) -> dict[str, Any]:
    """Every sector's evidence for `region` from a regions × sectors table, with the
    `economic-complexity` library: {"sectors": {code: {...}}, "eci": float|None, ...}."""
    import economic_complexity as ec

    names = names or {}
    table = table.fillna(0)
    # Sectors and regions with nothing at all have no shares to compare.
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    with np.errstate(all="ignore"):
        rca = ec.rca(table)
        proximity = _proximity(ec, rca)
        density = ec.relatedness(rca, proximities=proximity)
        # Complexity on the sectors some region is specialised in, and the regions
        # specialised in something (the library's iteration divides by both counts).
        held = rca.ge(1)
        core = rca.loc[held.any(axis=1), held.any(axis=0)]
        eci = pci = None
        if len(core.index) >= MIN_REGIONS_COMPLEXITY and len(core.columns) >= 2:
            eci, pci = ec.complexity(core)
    if region not in rca.index:  # the region's figures are all 0
        return {"sectors": {}, "eci": None, "regions": len(table.index),
                "complexity": pci is not None}
    mine = rca.loc[region]
    values = table.loc[region]
    total = float(values.sum())
    strong = [c for c in rca.columns if mine[c] >= 1]
    prox = proximity.to_numpy()
    col = {c: i for i, c in enumerate(rca.columns)}
    strong_idx = np.array([col[c] for c in strong], dtype=int)
    out: dict[str, dict[str, Any]] = {}
    for code in rca.columns:
        related = []
        if len(strong_idx):
            row = prox[col[code], strong_idx]
            for j in np.argsort(-row, kind="stable")[:RELATED_TOP + 1]:
                other = strong[j]
                if other == code or not row[j] > 0:
                    continue
                related.append({"code": other, "name": names.get(other) or other,
                                "rca": _round(mine[other], 2),
                                "proximity": _round(row[j], 2)})
        out[code] = {
            "code": code,
            "name": names.get(code) or code,
            "value": _round(values[code], 4),
            "rca": _round(mine[code], 2),
            "share": _round(values[code] / total, 4) if total else None,
            "density": _round(density.at[region, code], 3),
            "complexity": (_round(pci.get(code), 2) if pci is not None and code in pci.index
                           else None),
            "related": related[:RELATED_TOP],
        }
    return {"sectors": out,
            "eci": _round(eci.get(region), 2) if eci is not None and region in eci.index
            else None,
            "regions": len(table.index),
            "complexity": pci is not None}


_cache: dict[int, tuple[tuple, dict[str, Any]]] = {}
_lock = threading.Lock()


def forget(workshop_id: int) -> None:
    _cache.pop(workshop_id, None)


def computed(diag: Diagnosis) -> dict[str, Any]:
    """The indexes of a stored diagnosis, computed once per load (per process)."""
    key = (diag.id, diag.loaded_at, diag.region)
    hit = _cache.get(diag.workshop_id)
    if hit is not None and hit[0] == key:
        return hit[1]
    with _lock:
        names = {c: n for c, n in diag.data["sectors"] if n}
        result = indexes(matrix(diag.data), diag.region, names)
        result["names"] = {c: n or c for c, n in diag.data["sectors"]}
        result["n_sectors"] = len(diag.data["sectors"])
        result["n_regions"] = len(diag.data["regions"])
        _cache[diag.workshop_id] = (key, result)
    return result


# ---------------------------------------------------------------- what the room sees


def sectors(ws: Workshop) -> list[dict[str, str]]:
    """The diagnosis' sectors for a picker: [{code, name}] in code order."""
    diag = diagnosis_of(ws)
    if diag is None:
        return []
    return [{"code": c, "name": n} for c, n in computed(diag)["names"].items()]


def summary(ws: Workshop, diag: Diagnosis | None = None) -> dict[str, Any] | None:
    """`state.workshop.diagnosis`: {region, source, year, sectors, regions} or None."""
    diag = diag if diag is not None else diagnosis_of(ws)
    if diag is None:
        return None
    found = computed(diag)
    return {"region": diag.region, "source": diag.source, "year": diag.year,
            "sectors": found["n_sectors"], "regions": found["n_regions"],
            "complexity": found["complexity"], "eci": found["eci"],
            "loaded_at": diag.loaded_at.isoformat() + "Z"}


def check_codes(ws: Workshop, codes: list[str]) -> list[str]:
    """The codes, checked against the diagnosis (in the given order, without repeats);
    an unknown one is refused with bad_payload naming it."""
    from .workshop import EDPError

    codes = list(dict.fromkeys(str(c).strip() for c in codes))
    if len(codes) > MAX_SECTORS:
        raise EDPError("bad_payload", _("At most %(n)s sectors per domain.", n=MAX_SECTORS))
    if not codes:
        return []
    diag = diagnosis_of(ws)
    known = computed(diag)["names"] if diag is not None else {}
    for code in codes:
        if code not in known:
            if not known:
                raise EDPError("bad_payload", _("This workshop has no diagnosis data yet, so "
                                                "no sector “%(code)s”.", code=code))
            raise EDPError("bad_payload", _("There is no sector “%(code)s” in the workshop's "
                                            "diagnosis data.", code=code))
    return codes


def evidence_for(ws: Workshop, codes: list[str],
                 diag: Diagnosis | None = None) -> dict[str, Any] | None:
    """A linked domain's evidence: {"sectors": [...], "source", "year", "region"}; None when
    it has no sectors. A code the current data lacks (an earlier file had it) stays, with
    no figures."""
    if not codes:
        return None
    diag = diag if diag is not None else diagnosis_of(ws)
    result = computed(diag) if diag is not None else {"sectors": {}, "names": {}}
    found, names = result["sectors"], result["names"]
    items = []
    for code in codes:
        item = found.get(code)
        items.append(item if item is not None else
                     {"code": code, "name": names.get(code) or code, "value": None,
                      "rca": None, "share": None, "density": None, "complexity": None,
                      "related": []})
    return {"sectors": items,
            "region": diag.region if diag else None,
            "source": diag.source if diag else None,
            "year": diag.year if diag else None}
