"""Socket.IO client managers that know each client's rooms.

python-socketio finds the rooms of a client that disconnects by walking every room of the
namespace (`BaseManager.basic_disconnect` copies the room table, then asks each room whether
the client is in it). Every phone has a room of its own, so each disconnect costs as many
checks as there are phones: when the venue's Wi-Fi drops 2,000 phones at once, that is about
four million checks, and again for every phone that gives up on the way back. These managers
keep, beside python-socketio's table, the rooms of each client, and leave exactly those.

`client_manager` picks the manager for the app's message queue: in-process without one, Redis
with a Redis URL; for any other URL it returns None and Flask-SocketIO chooses as before.
"""
from __future__ import annotations

from typing import Any

import socketio


class RoomIndex:
    """Mixed into a python-socketio manager: `rooms_of[(namespace, sid)]` holds the rooms
    (None, the connected clients' room, included) the client is in, kept by the same
    `basic_*` methods that keep the manager's own table."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rooms_of: dict[tuple[str, str], set[Any]] = {}

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self.rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid, namespace, room):
        super().basic_leave_room(sid, namespace, room)
        rooms = self.rooms_of.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self.rooms_of[(namespace, sid)]

    def basic_disconnect(self, sid, namespace, **kwargs):
        """As python-socketio's, leaving only the client's own rooms."""
        if namespace not in self.rooms:
            return
        for room in list(self.rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]

    def get_rooms(self, sid, namespace):
        return [room for room in self.rooms_of.get((namespace, sid), ()) if room is not None]


class IndexedManager(RoomIndex, socketio.Manager):
    """One process, no message queue."""


class IndexedRedisManager(RoomIndex, socketio.RedisManager):
    """Several processes joined by Redis."""


def client_manager(url: str | None, channel: str) -> socketio.Manager | None:
    if not url:
        return IndexedManager()
    if url.startswith(("redis://", "rediss://")):
        return IndexedRedisManager(url, channel=channel, write_only=False)
    return None
