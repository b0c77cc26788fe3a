"""The room index (`edp.rooms`): the same rooms as python-socketio's own manager, whatever
clients do, and a disconnect that does not walk every phone's room."""
from __future__ import annotations

import time

import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

from edp.rooms import IndexedManager, IndexedRedisManager, client_manager

NS = "/"
SIDS = [f"s{k}" for k in range(6)]
ROOMS = ["w1", "f1", "screen1", "w1.0", "w1.1", "p7"]

op = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(SIDS)),
    st.tuples(st.just("enter"), st.sampled_from(SIDS), st.sampled_from(ROOMS)),
    st.tuples(st.just("leave"), st.sampled_from(SIDS), st.sampled_from(ROOMS)),
    st.tuples(st.just("close"), st.sampled_from(ROOMS)),
    st.tuples(st.just("disconnect"), st.sampled_from(SIDS)),
)


def apply(manager, step) -> None:
    kind, *args = step
    connected = manager.rooms.get(NS, {}).get(None, {})
    if kind == "connect":
        if args[0] not in connected:
            manager.basic_enter_room(args[0], NS, None, eio_sid="e" + args[0])
            manager.basic_enter_room(args[0], NS, args[0], eio_sid="e" + args[0])
    elif kind == "enter":
        if args[0] in connected:
            manager.basic_enter_room(args[0], NS, args[1])
    elif kind == "leave":
        manager.basic_leave_room(args[0], NS, args[1])
    elif kind == "close":
        manager.basic_close_room(args[0], NS)
    else:
        manager.basic_disconnect(args[0], NS)


def table(manager) -> dict:
    return {ns: {room: dict(members) for room, members in rooms.items()}
            for ns, rooms in manager.rooms.items()}


@settings(max_examples=200, deadline=None)
@given(st.lists(op, max_size=60))
def test_the_index_keeps_the_same_rooms_as_python_socketio(steps):
    plain, indexed = socketio.Manager(), IndexedManager()
    for step in steps:
        apply(plain, step)
        apply(indexed, step)
        assert table(indexed) == table(plain), step
    for sid in SIDS:
        assert sorted(indexed.get_rooms(sid, NS), key=str) == \
            sorted(plain.get_rooms(sid, NS), key=str)
    # Nothing left in the index for a client that is in no room.
    members = {(NS, sid) for room in plain.rooms.get(NS, {}).values() for sid in room}
    assert set(indexed.rooms_of) == members


def _disconnect_everyone(manager, phones: int) -> float:
    for k in range(phones):
        sid = f"phone{k}"
        for room in (None, sid, "w1", f"w1.{k % 10}", f"p{k}"):
            manager.basic_enter_room(sid, NS, room, eio_sid="e" + sid)
    started = time.perf_counter()
    for k in range(phones):
        manager.basic_disconnect(f"phone{k}", NS)
    assert manager.rooms == {}
    return time.perf_counter() - started


def test_a_room_full_of_phones_disconnects_in_linear_time():
    """2,000 phones dropping at once: python-socketio walks ~4,000 rooms per phone; the index
    leaves each phone's five. Compared on the same machine in the same run, so the ratio
    holds wherever the test runs."""
    plain = _disconnect_everyone(socketio.Manager(), 2000)
    indexed = _disconnect_everyone(IndexedManager(), 2000)
    assert indexed * 20 < plain, (indexed, plain)


def test_the_app_uses_the_index_with_and_without_redis():
    assert isinstance(client_manager(None, "c"), IndexedManager)
    assert isinstance(client_manager("redis://127.0.0.1:6379/0", "c"), IndexedRedisManager)
    assert client_manager("amqp://guest@localhost//", "c") is None  # Flask-SocketIO's choice
