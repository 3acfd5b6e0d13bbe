"""The last completions answered, by response or request id, so a client (the HTTP API, the language
server) can report which one it kept. One bounded map, kept by the `Assistant` facade."""

from __future__ import annotations

import threading
from collections import OrderedDict

from assistant.types import Answered

REMEMBERED = 256
"""Completions kept for feedback; older ids are forgotten (the client gets a 404 naming the limit)."""


class RecentCompletions:
    """A bounded, thread-safe map from response id to what was asked and answered."""

    def __init__(self, capacity: int = REMEMBERED) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Answered] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, response_id: str, answered: Answered) -> None:
        with self._lock:
            self._items[response_id] = answered
            self._items.move_to_end(response_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, response_id: str) -> Answered | None:
        with self._lock:
            return self._items.get(response_id)
