"""The shape of a JSON record (the `json` export) that `edp.record` imports, declared once as
pydantic models; `docs/record.schema.json` is generated from them (`write_schema`).

The models check what the import reads: types, bounds (every number fits the database's
32-bit columns; numbers inside free JSON such as event payloads stay within 2**53 and nest at
most `MAX_DEPTH` levels), and the sizes of strings. Keys the import does not read are allowed
(a later version may add them). Meaning that needs the whole record (a vote for an unknown
domain, a priority given twice) is checked by the import itself; both kinds of error name the
field as a path such as `events[12].payload.points`.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

# The largest number a database integer column holds (PostgreSQL's `integer`).
MAX_INT = 2**31 - 1
# Numbers inside free JSON (payloads, settings, indicators): what every JSON reader keeps exact.
MAX_JSON_INT = 2**53
# Nesting of free JSON below its field; the app writes at most 3 levels.
MAX_DEPTH = 8
SHORT = 200          # keys, helices, references, titles (titles are cut to 200 on import)
LONG = 1_000_000     # free text: descriptions, comments, rationales

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "record.schema.json"

Int = Annotated[int, Field(ge=0, le=MAX_INT)]
Short = Annotated[str, Field(max_length=SHORT)]
Text = Annotated[str, Field(max_length=LONG)]


def _iso(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("timestamp", "not an ISO 8601 time: {value!r}",
                                  {"value": value[:40]}) from None
    return value


Time = Annotated[str, Field(max_length=40), AfterValidator(_iso)]


def _walk(value: Any, path: str, depth: int) -> None:
    """Free JSON: nested at most MAX_DEPTH levels, integers within +-2**53."""
    if depth > MAX_DEPTH:
        raise PydanticCustomError("json_depth", "nested deeper than {max} levels",
                                  {"max": MAX_DEPTH, "path": path})
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            raise PydanticCustomError("json_int", "number out of range (at most 2**53)",
                                      {"path": path})
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _walk(item, f"{path}[{n}]", depth + 1)


def _free(value: Any) -> Any:
    _walk(value, "", 0)
    return value


_FREE_SCHEMA = {"description": f"Any JSON, nested at most {MAX_DEPTH} levels, integers within "
                               f"+-2**53."}
FreeJSON = Annotated[Any, AfterValidator(_free), WithJsonSchema(_FREE_SCHEMA)]
FreeObject = Annotated[dict[str, Any], AfterValidator(_free),
                       WithJsonSchema({"type": "object", **_FREE_SCHEMA})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Helix(_Model):
    key: Short
    label: Short
    labels: dict[str, Short] | None = None
    funder: bool | None = None


class Criterion(_Model):
    key: Short
    label: Short
    labels: dict[str, Short] | None = None
    weight: Annotated[float, Field(ge=0, le=1_000, allow_inf_nan=False)]


class WorkshopPart(_Model):
    title: Text
    region: Text | None = None
    description: Text | None = None
    language: Short
    method: Short
    phase: Short
    budget: Int = 10
    cap: Int | None = None
    max_priorities: Int = 5
    results_shown: bool = False
    moderation: Short | None = None
    helices: Annotated[list[Helix], Field(min_length=1, max_length=100)]
    criteria: Annotated[list[Criterion], Field(max_length=100)] | None = None
    settings: FreeObject | None = None
    vote_own: bool | None = None
    created_at: Time | None = None
    phase_ends_at: Time | None = None


Quadrant = Literal["strength", "weakness", "opportunity", "threat"]
Signal = Literal["yes", "maybe", "no"]
ReactionValue = Literal["agree", "disagree", "pass"]


class SwotEntry(_Model):
    item_id: Int | None = None
    quadrant: Quadrant
    text: Text
    helix: Short | None = None
    participant: Short | None = None
    hidden: bool | None = None
    at: Time | None = None


Figure = Annotated[float, Field(allow_inf_nan=False)] | None


class RelatedSector(_Model):
    code: Short
    name: Text | None = None
    rca: Figure = None
    proximity: Figure = None


class SectorEvidence(_Model):
    """One linked sector's figures for the workshop's region (edp/evidence.py)."""

    code: Short
    name: Text | None = None
    value: Figure = None
    rca: Figure = None
    share: Figure = None
    density: Figure = None
    complexity: Figure = None
    related: Annotated[list[RelatedSector], Field(max_length=100)] = []


class DomainEvidence(_Model):
    sectors: Annotated[list[SectorEvidence], Field(max_length=100)]
    region: Text | None = None
    source: Text | None = None
    year: Annotated[int, Field(ge=0, le=10_000)] | None = None


class DiagnosisPart(_Model):
    """The region's diagnosis data whole: `values` holds [region index, sector index, value]."""

    region: Text
    source: Text | None = None
    year: Annotated[int, Field(ge=0, le=10_000)] | None = None
    loaded_at: Time | None = None
    regions: Annotated[list[Text], Field(min_length=2, max_length=100_000)]
    sectors: Annotated[list[Annotated[list[Text], Field(min_length=2, max_length=2)]],
                       Field(min_length=1, max_length=100_000)]
    values: Annotated[list[Annotated[list[Annotated[float, Field(ge=0, allow_inf_nan=False)]],
                                     Field(min_length=3, max_length=3)]],
                      Field(max_length=2_000_000)]
    years: Annotated[list[Annotated[int, Field(ge=0, le=10_000)]],
                     Field(max_length=1_000)] | None = None


class DomainItem(_Model):
    domain_id: Int
    title: Text
    description: Text | None = None
    rationale: Text | None = None
    sdgs: Annotated[list[Annotated[int, Field(ge=-1_000, le=1_000)]],
                    Field(max_length=100)] | None = None
    status: Short = "approved"
    seed: bool | None = None
    proposed_by: Short | None = None
    proposer_name: Text | None = None
    proposer_organisation: Text | None = None
    merged_into: Int | None = None
    created_at: Time | None = None
    swot: Annotated[list[SwotEntry], Field(max_length=100_000)] | None = None
    funding: FreeObject | None = None
    sectors: Annotated[list[Short], Field(max_length=100)] | None = None
    evidence: DomainEvidence | None = None


class StatementItem(_Model):
    """A vision statement; its counts (`agree`, `disagree`, `pass`, `agreement`, `by_helix`)
    are what the reactions give, so the import restores the reactions instead."""

    statement_id: Int
    text: Text
    adopted: bool = False
    hidden: bool | None = None
    participant: Short | None = None
    at: Time | None = None


class CommentItem(_Model):
    comment_id: Int
    domain_id: Int
    stance: Short
    text: Text
    participant: Short | None = None
    name: Text | None = None
    organisation: Text | None = None
    hidden: bool | None = None
    at: Time | None = None


class ParticipantItem(_Model):
    ref: Short
    helix: Short
    joined_at: Time | None = None


class VoteEntry(_Model):
    helix: Short | None = None
    points: dict[Short, Int] = {}


class ScoreEntry(_Model):
    helix: Short | None = None
    values: dict[Short, dict[Short, Annotated[int, Field(ge=0, le=1_000)]]] = {}


class RankingEntry(_Model):
    helix: Short | None = None
    order: Annotated[list[Int], Field(max_length=100_000)] = []


class ReactionEntry(_Model):
    helix: Short | None = None
    statements: dict[Short, ReactionValue] = {}


class FundingSignal(_Model):
    signal: Signal
    instrument: Annotated[str, Field(max_length=200)] | None = None
    at: Time | None = None


class FundingEntry(_Model):
    helix: Short | None = None
    signals: dict[Short, FundingSignal] = {}


class PriorityItem(_Model):
    domain_id: Int
    rank: Int
    rationale: Text
    indicators: Annotated[list[FreeJSON], Field(max_length=1_000)] | None = None
    funders: Annotated[list[Text], Field(max_length=1_000)] | None = None
    decided_at: Time | None = None


class EventItem(_Model):
    id: Int
    at: Time | None = None
    kind: Short
    actor_role: Short | None = None
    helix: Short | None = None
    participant: Short | None = None
    payload: FreeObject | None = None


class Record(_Model):
    """An EDP Live record (`format` "edp-live-record", `version` 1 to 3)."""

    model_config = ConfigDict(extra="allow", title="EDP Live record")

    format: Annotated[str, Field(pattern="^edp-live-record$")]
    version: Annotated[int, Field(ge=1, le=3)]
    exported_at: Time | None = None
    workshop: WorkshopPart
    vision: Annotated[list[StatementItem], Field(max_length=100_000)] = []
    domains: list[DomainItem] = []
    comments: list[CommentItem] = []
    participants: list[ParticipantItem] = []
    votes: dict[Short, VoteEntry] = {}
    scores: dict[Short, ScoreEntry] = {}
    rankings: dict[Short, RankingEntry] = {}
    reactions: dict[Short, ReactionEntry] = {}
    funding: dict[Short, FundingEntry] = {}
    priorities: list[PriorityItem] = []
    events: list[EventItem] = []
    diagnosis: DiagnosisPart | None = None


def path_of(loc: tuple[Any, ...], sub: str = "") -> str:
    """('events', 12, 'payload') + '.points' -> 'events[12].payload.points'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out + sub


def first_error(data: Any) -> tuple[str, str] | None:
    """(path, problem) of the first place where `data` breaks the schema, or None."""
    try:
        Record.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        sub = str((error.get("ctx") or {}).get("path") or "")
        return path_of(tuple(error["loc"]), sub) or "(record)", error["msg"]
    return None


def json_schema() -> dict[str, Any]:
    schema = Record.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def write_schema(path: Path = SCHEMA_PATH) -> None:
    path.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
