"""Hypothesis throws random payloads at every Socket.IO event, from every seat, in every phase.

What must hold for each one: the ack has the contract's shape with a known error code (never
`internal`, which would mean an exception inside a handler); a refused payload leaves every
stored row as it was; an accepted one passed the event's allow-list. Payloads are random JSON-like
values (nested dicts and lists, huge integers, NaN and infinities, unicode, lone surrogates, NUL,
very long strings, booleans where integers belong) and schema-shaped dicts whose fields are drawn
from the workshop's real ids and keys mixed with the same junk, so the rules are reached too.
The same is then sent to a real server for a shorter run, with raw frames no client library would
produce, and the server must still answer and stay healthy.
"""
from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading

import hypothesis
import pytest
import socketio
from conftest import LiveServer, World, login_cookie, make_app
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_server import Sock

from edp import (
    models,
    sockets,
)
from edp import workshop as rules
from edp.extensions import db
from edp.extensions import socketio as server_socketio
from edp.validation import validate

CODES = {"wrong_phase", "not_joined", "unknown_workshop", "bad_helix", "bad_payload", "forbidden",
         "over_budget", "wrong_method", "not_found", "rate_limited", "over_cap",
         "too_many_priorities", "own_proposal", "ballots_exist",
         # floods (test_floods.py): caps, closed joining, a second join at once on a connection
         "too_many", "joining_closed", "already_joined",
         # the method: a stray invitation token
         "invite_required"}
TABLES = ["facilitator", "workshop", "participant", "domain", "comment", "vote", "score",
          "ranking", "priority", "event", "statement", "reaction", "swot_item", "funding",
          "invitation", "diagnosis"]
EVENTS = sorted(sockets.SCHEMAS)
# Column types that change without a change of meaning (timestamps) are left out.
SKIP_COLUMNS = {"created_at", "updated_at", "decided_at", "at", "phase_ends_at"}
FUZZ = settings(max_examples=700, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- strategies

BIG_INTS = st.sampled_from([2**31, 2**31 - 1, -(2**31), 2**53 + 1, 2**63, -(2**64), 10**30,
                            10**300, -(10**4000)])
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [float("nan"), float("inf"), -0.0, 1e308, 5e-324, 1.0, 2.5])
WEIRD_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202e\u200b", "NaN", "Infinity", "null",
    "<script>alert(1)</script>", "'; DROP TABLE vote; --", "%s%s%n", "{{7*7}}", "${7*7}",
    "\U0001F600" * 50, "ü" * 201, "e\u0301" * 100, "\r\n\t", "__proto__", "constructor",
])
LONG_TEXT = st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "é", "\U0001F600", " "]),
                      st.sampled_from([16, 17, 40, 41, 64, 65, 120, 121, 199, 200, 201, 500, 501,
                                       5000, 5001, 100_000, 900_000]))
TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30)
WORDS = st.text(alphabet="abc xyzÁé\ud800\x00", min_size=1, max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers() | BIG_INTS | FLOATS | TEXT | WEIRD_TEXT
           | LONG_TEXT)
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(TEXT | st.sampled_from(["workshop_id", "domain_id", "code", "__proto__"]),
                      children, max_size=6),
    max_leaves=25,
)


class Place:
    """A workshop with a console, phones and a projector, and pools of real values."""

    def __init__(self, app):
        self.app = app
        self.world = World(app)
        self.world.facilitator()
        info = self.world.workshop()
        self.id, self.code = info["id"], info["code"]
        self.world.facilitator("other@example.org")
        self.other_id = self.world.workshop(email="other@example.org")["id"]
        self.console = self.world.console(self.id)
        self.act("phase", phase="propose")
        self.phones = [self.world.phone(self.code, h) for h in ("business", "academia")]
        for i, phone in enumerate(self.phones):
            assert phone.emit("propose", {"title": f"Own idea {i}"})["ok"]
        self.projector = self.world.projector(self.code)
        self.anonymous = self.world.phone()
        with app.app_context():
            ws = db.session.get(models.Workshop, self.id)
            self.helices = ws.helix_keys()
            self.criteria = [c["key"] for c in ws.criteria]
            self.domains = [d.id for d in rules.domains_of(ws)]
            db.session.remove()
        self.path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")

    def act(self, event: str, **payload) -> dict:
        return self.console.emit(event, {"workshop_id": self.id, **payload})

    def seat(self, role: str):
        return {"participant": self.phones[0], "other participant": self.phones[1],
                "facilitator": self.console, "projector": self.projector,
                "anonymous": self.anonymous}[role]

    def _db(self) -> sqlite3.Connection:
        """A reader of its own (autocommit: every query sees the latest commit)."""
        if getattr(self, "_conn", None) is None:
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
            self._columns = {
                table: ", ".join(f'"{r[1]}"' for r in self._conn.execute(
                    f"PRAGMA table_info({table})") if r[1] not in SKIP_COLUMNS)
                for table in TABLES}
        return self._conn

    def phase(self) -> str:
        return self._db().execute("SELECT phase FROM workshop WHERE id = ?",
                                  (self.id,)).fetchone()[0]

    def fingerprint(self) -> dict:
        """Every stored row (timestamps aside), read straight from the file."""
        db_ = self._db()
        return {table: db_.execute(f"SELECT {cols} FROM {table} ORDER BY id").fetchall()
                for table, cols in self._columns.items()}


def field_values(place: Place, name: str, clean: bool = False) -> st.SearchStrategy:
    """Plausible values for a field of that name, or anything at all."""
    ids = st.sampled_from(place.domains + [0, -1, 2**31 - 1, 2**31, place.id, place.other_id])
    pools = {
        "code": st.sampled_from([place.code, place.code.lower(), f" {place.code} ", "ZZZZZZ",
                                 place.code + "X"]),
        "helix": st.sampled_from(place.helices + ["", "aliens", "Business"]),
        "token": st.sampled_from([place.phones[0].token, place.phones[1].token, "nope"]),
        "workshop_id": st.sampled_from([place.id, place.other_id, 0, 999_999]),
        "domain_id": ids, "into": ids,
        "points": st.integers(-2, 12), "value": st.integers(-1, 7), "rank": st.integers(-1, 7),
        "seconds": st.integers(-5, 100_000),
        "criterion": st.sampled_from(place.criteria + ["", "nope"]),
        "scores": st.dictionaries(st.sampled_from(place.criteria + ["", "nope"]),
                                  st.integers(-1, 7), max_size=6),
        "order": st.lists(ids, max_size=8),
        "stance": st.sampled_from([*rules.STANCES, "Support", ""]),
        "phase": st.sampled_from([*rules.PHASES, "voting", ""]),
        "method": st.sampled_from([*rules.METHODS, "approval"]),
        "action": st.sampled_from([*rules.MODERATION_ACTIONS, "delete"]),
        "shown": st.booleans(),
        "sdgs": st.lists(st.integers(-1, 19), max_size=20),
        "indicators": st.lists(TEXT | st.fixed_dictionaries(
            {"name": TEXT}, optional={"baseline": SCALARS, "target": SCALARS}), max_size=4),
        "funders": st.lists(TEXT, max_size=4),
        "language": st.sampled_from(["en", "es", "pt", "fr", ""]),
        "client_id": st.sampled_from(["c1", "same-client-id-0001", "x" * 64, "x" * 65]),
    }
    plausible = pools.get(name, WORDS | TEXT | WEIRD_TEXT | LONG_TEXT)
    return plausible if clean else st.one_of(plausible, plausible, plausible, JSONISH)


@st.composite
def payloads(draw, place: Place, event: str):
    """Complete payloads of plausible values (so the rules run), complete ones with junk in
    some fields, any subset of the fields, and junk."""
    shape = draw(st.sampled_from(["clean", "clean", "full", "subset", "junk"]))
    if shape == "junk":
        return draw(JSONISH)
    schema = sockets.SCHEMAS.get(event, {})
    names = draw(st.lists(st.sampled_from(sorted(schema)), unique=True)) if schema else []
    if shape in ("clean", "full"):
        names = sorted({n for n, f in schema.items() if f.required} | set(names))
    out = {name: draw(field_values(place, name, clean=shape == "clean")) for name in names}
    if draw(st.booleans()):
        out.update(draw(st.dictionaries(TEXT, JSONISH, max_size=2)))  # unknown keys
    return out


# ---------------------------------------------------------------- the checks


def check_ack(ack, event, payload) -> dict:
    assert isinstance(ack, dict), (event, payload, ack)
    if ack.get("ok") is True:
        return ack
    assert set(ack) == {"ok", "error"} and ack["ok"] is False, ack
    error = ack["error"]
    # A rate limit of its own (comments, proposals, joins per workshop) adds when to try again.
    extra = {"retry_after"} if error.get("code") == "rate_limited" else set()
    assert {"code", "message"} <= set(error) <= {"code", "message"} | extra, ack
    assert all(isinstance(error[k], int) and error[k] >= 1 for k in extra & set(error)), ack
    assert error["code"] in CODES, (event, payload, ack)  # never "internal"
    assert isinstance(error["message"], str) and error["message"].strip(), ack
    return ack


@pytest.fixture
def place(tmp_path):
    """One workshop per fuzz test; after all its examples the app must still serve a normal
    workshop's actions (the server stayed up)."""
    app = make_app(f"sqlite:///{tmp_path / 'fuzz.sqlite3'}", JOIN_GUESS_BURST=0,
                   JOIN_GUESS_ADDRESS_BURST=0)
    place = Place(app)
    yield place
    place._db().close()
    assert place.act("phase", phase="propose")["ok"]
    newcomer = place.world.phone(place.code, "funders")
    assert newcomer.emit("propose", {"title": "After the storm"})["ok"]
    assert place.world.projector(place.code).emit("watch", {"code": place.code})["ok"]
    assert app.test_client().get("/healthz").get_json() == {"ok": True}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def errors(caplog):
    """Anything the app logs at ERROR (a handler's exception) fails the test."""
    caplog.set_level(logging.ERROR)
    yield caplog
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("edp")]
    assert not bad, [r.getMessage() for r in bad[:5]]


def accepting_phase(event: str, drawn: str) -> str:
    """Half the time the phase in which the event is accepted, so the rules are reached."""
    allowed = rules.PHASE_RULES.get(event)
    return allowed[len(drawn) % len(allowed)] if allowed and len(drawn) % 2 else drawn


# Most examples keep the phase the last one left (changing it broadcasts results: slow).
PHASE_DRAWS = st.sampled_from([None, None, None, *rules.PHASES])


def run_one(place: Place, role: str, phase: str | None, event: str, payload) -> None:
    if phase is not None:
        phase = accepting_phase(event, phase)
        if place.phase() != phase:
            assert place.act("phase", phase=phase)["ok"]
    before = place.fingerprint()
    ack = check_ack(place.seat(role).emit(event, payload), event, payload)
    hypothesis.event(f"{event}: {'ok' if ack['ok'] else ack['error']['code']}")
    if ack["ok"]:
        # Accepted: it was a valid payload for that event.
        schema = sockets.SCHEMAS.get(event)
        assert schema is not None, (event, ack)
        validate(schema, payload)
    else:
        assert place.fingerprint() == before, (role, phase, event, payload, ack)


ROLES = ["participant", "other participant", "projector", "anonymous"]


@FUZZ
@given(data=st.data())
def test_random_payloads_from_participants_projector_and_strangers(place, errors, data):
    event = data.draw(st.sampled_from(EVENTS + ["nope", "", "edp:malformed", "connect"]))
    role = data.draw(st.sampled_from([*ROLES, "participant", "participant"]))
    phase = data.draw(PHASE_DRAWS)
    run_one(place, role, phase, event, data.draw(payloads(place, event)))


@FUZZ
@given(data=st.data())
def test_random_payloads_from_the_facilitator(place, errors, data):
    event = data.draw(st.sampled_from(EVENTS))
    phase = data.draw(PHASE_DRAWS)
    run_one(place, "facilitator", phase, event, data.draw(payloads(place, event)))


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_unreadable_frames_are_answered_not_dropped(place, errors, data):
    """Frames no client library would send, straight into the server's packet handling."""
    body = data.draw(st.one_of(
        st.sampled_from(['["vote",{"domain_id":1' + "1" * 5000 + ',"points":1}]',
                         '["vote",{"domain_id":NaN,"points":-Infinity}]',
                         '["vote",{"domain_id":1e999,"points":1}]', '[broken', '{"a":1}', "[]",
                         "[1,2]", "[[1],{}]", '["connect",{}]', '["disconnect"]', "[null]",
                         "[" * 50_000 + "]" * 50_000, '["join",' + '{"a":' * 3000 + "1" +
                         "}" * 3000 + "]", '["propose","\\ud800"]', '"just a string"', "42"]),
        st.text(max_size=200).map(lambda t: "[" + t)))
    phone = place.seat(data.draw(st.sampled_from(ROLES + ["facilitator"])))
    client = phone.sio
    before = place.fingerprint()
    client.callback_counter += 1
    client.acks = None
    server_socketio.server._handle_eio_message(client.eio_sid, f"2{client.callback_counter}{body}")
    ack = client.acks
    assert ack is not None, body[:80]
    check_ack(ack["args"][0], "raw", body[:80])
    assert place.fingerprint() == before


# ---------------------------------------------------------------- against a real server


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-live")
    srv = LiveServer(f"sqlite:///{tmp / 'live.sqlite3'}", log_dir=tmp)
    srv.env.update({"EDP_RATE_BURST": "100000", "EDP_RATE_PER_SECOND": "100000",
                    "EDP_JOIN_GUESS_BURST": "0", "EDP_JOIN_GUESS_ADDRESS_BURST": "0"})
    srv.info = srv.seed()
    srv.start()
    yield srv
    srv.stop()


class LivePlace(Place):
    """The same seats, over real websockets (pools of values from the live database)."""

    def __init__(self, srv: LiveServer):  # no super(): nothing runs in this process
        info = srv.info
        self.srv, self.id, self.code = srv, info["id"], info["code"]
        self.other_id = info["id"] + 1000
        self.console = Sock(srv.url, cookie=login_cookie(srv.url))
        state = self.console.call("facilitate", {"workshop_id": self.id})["state"]
        assert self.console.call("phase", {"workshop_id": self.id, "phase": "vote"})["ok"]
        self.phones = [Sock(srv.url), Sock(srv.url)]
        for phone, helix in zip(self.phones, ["business", "academia"]):
            phone.token = phone.call("join", {"code": self.code, "helix": helix})["token"]
        self.projector = Sock(srv.url)
        assert self.projector.call("watch", {"code": self.code})["ok"]
        self.anonymous = Sock(srv.url)
        self.helices = [h["key"] for h in state["workshop"]["helices"]]
        self.criteria = [c["key"] for c in state["workshop"]["criteria"]]
        self.domains = [d["domain_id"] for d in state["domains"]]
        self.path = srv.db_url.removeprefix("sqlite:///")

    def act(self, event: str, **payload) -> dict:
        return self.console.call(event, {"workshop_id": self.id, **payload})

    def close(self) -> None:
        self._db().close()
        for s in [self.console, *self.phones, self.projector, self.anonymous]:
            s.close()


@pytest.fixture(scope="module")
def live_place(live):
    lp = LivePlace(live)
    yield lp
    lp.close()


@settings(max_examples=250, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
@pytest.mark.server
def test_random_payloads_against_a_real_server(live_place, data):
    event = data.draw(st.sampled_from(EVENTS + ["nope"]))
    role = data.draw(st.sampled_from(ROLES + ["facilitator"]))
    payload = data.draw(payloads(live_place, event))
    # Above 1 MB the transport closes the connection by design (tests/test_faults.py).
    assume(len(json.dumps(payload)) < 900_000)
    seat = live_place.seat(role)
    before = live_place.fingerprint()
    ack = seat.sio.call(event, payload, timeout=10)
    ack = check_ack(ack, event, payload)
    if not ack["ok"]:
        assert live_place.fingerprint() == before, (role, event, payload, ack)


@pytest.mark.server
def test_raw_frames_against_a_real_server(live, live_place):
    """Frames a hostile client writes by hand: each gets a bad_payload ack over the wire."""
    sock = live_place.anonymous.sio
    frames = ['["vote",{"domain_id":1' + "1" * 5000 + "}]", "[broken", '{"a":1}', "[]",
              '["vote",{"points":NaN}]', "[" * 200_000 + "]" * 200_000, '["connect",{}]',
              '["nope",' + '"x"' * 3 + "]"]
    for body in frames:
        got = threading.Event()
        answer = []

        def callback(*args, _answer=answer, _got=got):
            _answer.append(args[0] if args else None)
            _got.set()

        ack_id = sock._generate_ack_id("/", callback)
        sock.eio.send(f"2{ack_id}{body}")
        assert got.wait(10), f"no ack for {body[:60]!r}"
        assert check_ack(answer[0], "raw", body[:60])["error"]["code"] == "bad_payload"
    # Still up and serving a normal workshop's actions (whatever state the fuzz left behind),
    # and nothing went wrong inside.
    assert live_place.act("phase", phase="propose")["ok"]
    fresh = socketio.Client(reconnection=False)
    fresh.connect(live.url, transports=["websocket"], wait_timeout=10)
    assert fresh.call("join", {"code": live_place.code, "helix": "funders"}, timeout=10)["ok"]
    assert fresh.call("propose", {"title": "After the fuzz"}, timeout=10)["ok"]
    fresh.disconnect()
    log = live.log_path.read_text(errors="replace")
    assert not re.search(r"Traceback|Exception|Error", log), log[-3000:]
