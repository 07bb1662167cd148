"""A small thread-safe LRU used to cache preprocessing results by image digest.

A slider move re-runs an app with the same photo; the key (kind, digest, options) makes the second
run reuse the detected faces, pose and masks instead of running the detectors again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class LRUCache:
    def __init__(self, max_items: int = 32):
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1; got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        # Compute outside the lock: detectors can take tens of ms and other kinds should not wait.
        value = compute()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
