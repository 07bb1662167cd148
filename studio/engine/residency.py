"""Resident models: an LRU of loaded pipelines and modules kept under a memory budget.

Entries are keyed by (kind, id): a base pipeline (with the LoRA students loaded into it), a full-UNet student,
a ControlNet, an image encoder, a TAESD. Before loading, the least recently used entries not needed by the
current request are dropped until the new entry's estimated size fits; the estimate comes from the catalog's
file sizes, the real size is measured after loading (`loader.module_bytes`, shared storages counted once).
"""

from __future__ import annotations

import gc
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from .loader import module_bytes

log = logging.getLogger(__name__)


@dataclass
class Entry:
    key: tuple[str, str]
    value: Any
    state: dict  # per-entry bookkeeping (loaded LoRA names, attached IP-Adapter, ...)


def default_budget_mb(device: str) -> float:
    """90 % of the GPU's memory, or half the machine's RAM on CPU/MPS."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_properties(torch.device(device)).total_memory * 0.9 / 1e6
    import psutil

    return psutil.virtual_memory().total * 0.5 / 1e6


class Residency:
    def __init__(self, budget_mb: float | None, device: str):
        self.budget_mb = budget_mb if budget_mb is not None else default_budget_mb(device)
        self.device = device
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self.evictions: list[tuple[str, str]] = []

    def get(self, key: tuple[str, str], load: Callable[[], Any], estimate_mb: float | None,
            pinned: set[tuple[str, str]]) -> Entry:  # fmt: skip
        """The resident entry for `key`, loading it (after making room) when absent."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        self.make_room(estimate_mb or 0.0, pinned)
        entry = Entry(key, load(), {})
        self._entries[key] = entry
        return entry

    def peek(self, key: tuple[str, str]) -> Entry | None:
        return self._entries.get(key)

    def make_room(self, needed_mb: float, pinned: set[tuple[str, str]]) -> None:
        while self._entries and self.resident_mb() + needed_mb > self.budget_mb:
            victim = next((k for k in self._entries if k not in pinned), None)
            if victim is None:
                log.warning("Memory budget %.0f MB is too small for this request; loading anyway.", self.budget_mb)
                return
            self.drop(victim)

    def drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.evictions.append(key)
        log.info("Evicted %s:%s to stay under the %.0f MB budget.", *key, self.budget_mb)
        del entry
        free_memory(self.device)

    def clear(self) -> None:
        self._entries.clear()
        free_memory(self.device)

    def keys(self) -> list[tuple[str, str]]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """Resident entries, least recently used first."""
        return list(self._entries.values())

    def resident_bytes(self) -> int:
        return module_bytes(*(e.value for e in self._entries.values()))

    def resident_mb(self) -> float:
        return self.resident_bytes() / 1e6


def free_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
