"""A small thread-safe LRU used to cache preprocessing results by image digest, bounded in items and in bytes.

A slider move re-runs an app with the same photo; the key (kind, digest, options) makes the second
run reuse the detected faces, pose and masks instead of running the detectors again. What a photo's analysis
holds grows after it is cached (a face computes its region masks on first use: ~129 MB for a 12 MP photo), so
the byte bound is checked against the entries' sizes as they are *now*, each time something is added.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


def deep_nbytes(value: Any, _depth: int = 0) -> int:
    """Bytes held by the numpy arrays inside `value` (lists, tuples, dicts and objects' attributes, a few levels
    deep): what dominates a cached analysis. Other Python objects count as nothing."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.nbytes
    if _depth > 4 or isinstance(value, (str, bytes, int, float, bool, type(None))):
        return 0
    if isinstance(value, dict):
        return sum(deep_nbytes(v, _depth + 1) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(deep_nbytes(v, _depth + 1) for v in value)
    attributes = getattr(value, "__dict__", None)
    return deep_nbytes(attributes, _depth + 1) if attributes else 0


class LRUCache:
    def __init__(self, max_items: int = 32, max_bytes: int | None = None):
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1; got {max_items}")
        self.max_items = max_items
        self.max_bytes = max_bytes
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
            if self.max_bytes is not None:
                sizes = [deep_nbytes(v) for v in self._items.values()]  # oldest first
                total = sum(sizes)
                for size in sizes[:-1]:  # the newest entry stays, whatever its size: it is being used
                    if total <= self.max_bytes:
                        break
                    self._items.popitem(last=False)
                    total -= size
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
