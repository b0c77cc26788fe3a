"""The method beyond voting over the socket protocol (issue #16): the vision phase
(statements, reactions, adoption), SWOT per domain and the funders' signal, on SQLite and
PostgreSQL."""
from __future__ import annotations

import pytest

HELICES = ["government", "business", "academia", "civil_society", "environment"]


def refused(ack, code):
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack
    assert ack["error"]["message"]


@pytest.fixture
def room(world):
    world.facilitator()
    ws = world.workshop()
    fac = world.console(ws["id"])
    return world, ws, fac


def test_vision_statements_reactions_and_adoption(room):
    world, ws, fac = room
    phones = [world.phone(ws["code"], helix=h) for h in HELICES for _ in range(3)]
    # Outside the vision phase a statement is refused.
    refused(phones[0].emit("statement", {"text": "In 2035 the region leads in green hydrogen."}),
            "wrong_phase")
    assert fac.act("phase", phase="vision")["ok"]
    broad = phones[0].emit("statement", {"text": "In 2035 the region exports clean energy.",
                                         "client_id": "c-1"})
    assert broad["ok"] and broad["statement_id"]
    again = phones[0].emit("statement", {"text": "In 2035 the region exports clean energy.",
                                         "client_id": "c-1"})
    assert again["statement_id"] == broad["statement_id"]  # a retry is not a second statement
    narrow = phones[1].emit("statement", {"text": "In 2035 every farm is a tech start-up."})
    refused(phones[1].emit("statement", {"text": "   "}), "bad_payload")
    # Everyone agrees with the broad one; only business agrees with the narrow one, but
    # business is the biggest group by far on the narrow statement's side.
    for p in phones:
        assert p.emit("react", {"statement_id": broad["statement_id"], "reaction": "agree"})["ok"]
        helix_is_business = phones.index(p) // 3 == 1
        r = p.emit("react", {"statement_id": narrow["statement_id"],
                             "reaction": "agree" if helix_is_business else "disagree"})
        assert r["ok"], r
    # A change of mind replaces the reaction.
    assert phones[0].emit("react", {"statement_id": broad["statement_id"],
                                    "reaction": "pass"})["reaction"] == "pass"
    refused(phones[0].emit("react", {"statement_id": broad["statement_id"],
                                     "reaction": "love"}), "bad_payload")
    refused(phones[0].emit("react", {"statement_id": 999999, "reaction": "agree"}), "not_found")
    state = fac.act("facilitate")["state"]
    vision = state["vision"]
    assert [s["statement_id"] for s in vision] == [broad["statement_id"], narrow["statement_id"]]
    top = vision[0]
    assert (top["agree"], top["disagree"], top["pass"]) == (14, 0, 1)
    assert top["agreement"] > vision[1]["agreement"]
    assert top["by_helix"]["government"] == {"agree": 2, "disagree": 0, "pass": 1}
    # The room sees totals, never a helix's reactions.
    projector = world.projector(ws["code"])
    public = projector.emit("watch", {"code": ws["code"]})["state"]["vision"]
    assert "by_helix" not in public[0] and public[0]["agree"] == 14
    # Adoption: the adopted statement heads the list for everyone.
    projector.received()
    assert fac.act("adopt", statement_id=narrow["statement_id"], adopted=True)["adopted"] is True
    pushed = projector.received("vision")
    assert pushed and pushed[-1]["statements"][0]["statement_id"] == narrow["statement_id"]
    assert pushed[-1]["statements"][0]["adopted"] is True
    refused(phones[2].emit("adopt", {"workshop_id": ws["id"], "statement_id": broad[
        "statement_id"], "adopted": True}), "forbidden")
    # A phone that rejoins finds its own reactions.
    me = world.phone(ws["code"], token=phones[0].token, helix="business").joined["state"]["me"]
    assert me["reactions"][str(broad["statement_id"])] == "pass"


def test_facilitator_adds_and_hides_statements(room):
    world, ws, fac = room
    phone = world.phone(ws["code"])
    added = fac.act("vision_moderate", action="add", text="A region that keeps its young people.")
    assert added["ok"], added
    sid = added["statement_id"]
    assert fac.act("vision_moderate", action="hide", statement_id=sid)["hidden"] is True
    assert fac.act("phase", phase="vision")["ok"]
    refused(phone.emit("react", {"statement_id": sid, "reaction": "agree"}), "not_found")
    assert fac.act("vision_moderate", action="restore", statement_id=sid)["hidden"] is False
    assert phone.emit("react", {"statement_id": sid, "reaction": "agree"})["ok"]


def test_swot_per_domain_with_helices(room):
    world, ws, fac = room
    state = fac.act("facilitate")["state"]
    did = state["domains"][0]["domain_id"]
    phone = world.phone(ws["code"], helix="academia")
    other = world.phone(ws["code"], helix="business")
    refused(phone.emit("swot", {"domain_id": did, "quadrant": "strength", "text": "Two labs"}),
            "wrong_phase")
    assert fac.act("phase", phase="discuss")["ok"]
    other.received()
    ack = phone.emit("swot", {"domain_id": did, "quadrant": "strength",
                              "text": "Two university labs with EU funding"})
    assert ack["ok"] and ack["item_id"]
    assert phone.emit("swot", {"domain_id": did, "quadrant": "threat",
                               "text": "Brain drain to the capital"})["ok"]
    refused(phone.emit("swot", {"domain_id": did, "quadrant": "hope", "text": "x"}),
            "bad_payload")
    refused(phone.emit("swot", {"domain_id": 10**6, "quadrant": "threat", "text": "x"}),
            "not_found")
    pushed = other.received("swot")
    assert pushed and pushed[0]["helix"] == "academia" and pushed[0]["quadrant"] == "strength"
    domain = next(d for d in world.phone(ws["code"]).joined["state"]["domains"]
                  if d["domain_id"] == did)
    assert [(i["quadrant"], i["helix"]) for i in domain["swot"]] == [
        ("strength", "academia"), ("threat", "academia")]
    # The facilitator can take an item out of the room's view.
    assert fac.act("swot_moderate", item_id=ack["item_id"], action="hide")["hidden"] is True
    domain = next(d for d in world.phone(ws["code"]).joined["state"]["domains"]
                  if d["domain_id"] == did)
    assert [i["quadrant"] for i in domain["swot"]] == ["threat"]


def test_funders_signal_is_its_own_axis(room):
    world, ws, fac = room
    state = fac.act("facilitate")["state"]
    ids = [d["domain_id"] for d in state["domains"]]
    assert any(h.get("funder") for h in state["workshop"]["helices"])
    funder = world.phone(ws["code"], helix="funders")
    assert funder.joined["state"]["me"]["funder"] is True
    citizen = world.phone(ws["code"], helix="civil_society")
    assert citizen.joined["state"]["me"]["funder"] is False
    assert fac.act("phase", phase="discuss")["ok"]
    refused(citizen.emit("fund", {"domain_id": ids[0], "signal": "yes"}), "forbidden")
    ack = funder.emit("fund", {"domain_id": ids[0], "signal": "yes",
                               "instrument": "ERDF 2028 call"})
    assert ack["ok"] and ack["instrument"] == "ERDF 2028 call"
    # A second funder says maybe; the first changes their mind and keeps the instrument.
    assert world.phone(ws["code"], helix="funders").emit(
        "fund", {"domain_id": ids[0], "signal": "maybe"})["ok"]
    assert funder.emit("fund", {"domain_id": ids[1], "signal": "no"})["ok"]
    refused(funder.emit("fund", {"domain_id": ids[1], "signal": "perhaps"}), "bad_payload")
    assert fac.act("phase", phase="vote")["ok"]
    voter = world.phone(ws["code"], helix="business")
    assert voter.emit("vote", {"domain_id": ids[1], "points": 3})["ok"]
    fac.received()
    assert fac.act("phase", phase="results")["ok"]
    results = fac.received("results")[-1]
    by_id = {e["domain_id"]: e for e in results["ranking"]}
    assert by_id[ids[0]]["funding"] == {"yes": 1, "maybe": 1, "no": 0}
    assert by_id[ids[1]]["funding"] == {"yes": 0, "maybe": 0, "no": 1}
    # Support and funding stay apart: the funders' "no" did not move the score.
    assert by_id[ids[1]]["score"] == 3
    domain = next(d for d in fac.act("facilitate")["state"]["domains"] if d["domain_id"] == ids[0])
    assert domain["funding"]["instruments"] == ["ERDF 2028 call"]
    assert funder.emit("fund", {"domain_id": ids[0], "signal": "yes"})["ok"]  # results phase
    assert fac.act("phase", phase="closed")["ok"]
    refused(funder.emit("fund", {"domain_id": ids[0], "signal": "no"}), "wrong_phase")
