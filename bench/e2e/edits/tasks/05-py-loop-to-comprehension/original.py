"""In-process registry of the models a worker can serve.

The registry is the worker's source of truth for which models are loaded,
which are draining (finishing in-flight requests before unload), and how much
memory each one pins.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

log = logging.getLogger(__name__)


@dataclass
class ModelEntry:
    name: str
    path: str
    size_bytes: int
    loaded: bool = False
    draining: bool = False
    in_flight: int = 0
    loaded_at: Optional[float] = None
    tags: List[str] = field(default_factory=list)


class ModelRegistry:
    def __init__(self, memory_budget: int) -> None:
        self._memory_budget = memory_budget
        self._models: Dict[str, ModelEntry] = {}
        self._lock = threading.RLock()

    def register(self, name: str, path: str, size_bytes: int,
                 tags: Optional[List[str]] = None) -> ModelEntry:
        with self._lock:
            if name in self._models:
                raise KeyError(f"model already registered: {name}")
            entry = ModelEntry(name, path, size_bytes, tags=list(tags or []))
            self._models[name] = entry
            return entry

    def memory_in_use(self) -> int:
        with self._lock:
            return sum(m.size_bytes for m in self._models.values() if m.loaded)

    def mark_loaded(self, name: str) -> None:
        with self._lock:
            entry = self._models[name]
            if entry.loaded:
                return
            if self.memory_in_use() + entry.size_bytes > self._memory_budget:
                raise MemoryError(f"not enough memory budget to load {name}")
            entry.loaded = True
            entry.draining = False
            entry.loaded_at = time.time()
            log.info("model %s loaded (%d bytes)", name, entry.size_bytes)

    def begin_drain(self, name: str) -> None:
        with self._lock:
            entry = self._models[name]
            if entry.loaded:
                entry.draining = True

    def active_model_names(self) -> List[str]:
        """Names of models that can accept new requests, in registration order."""
        with self._lock:
            names = []
            for m in self._models.values():
                if m.loaded and not m.draining:
                    names.append(m.name)
            return names

    def with_tag(self, tag: str) -> List[ModelEntry]:
        with self._lock:
            return [m for m in self._models.values() if tag in m.tags]

    def request_started(self, name: str) -> None:
        with self._lock:
            entry = self._models[name]
            if not entry.loaded or entry.draining:
                raise RuntimeError(f"model {name} is not accepting requests")
            entry.in_flight += 1

    def request_finished(self, name: str) -> bool:
        """Return True when the model finished draining and can be unloaded."""
        with self._lock:
            entry = self._models[name]
            entry.in_flight = max(0, entry.in_flight - 1)
            return entry.draining and entry.in_flight == 0

    def mark_unloaded(self, name: str) -> None:
        with self._lock:
            entry = self._models[name]
            entry.loaded = False
            entry.draining = False
            entry.loaded_at = None
            log.info("model %s unloaded", name)
