"""Loaded runtimes kept in memory, bounded by their approximate size."""

from __future__ import annotations

import ctypes
import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ._spec import Runtime


class _Load:
    """One load in progress; concurrent callers for the same key wait on it instead of loading again."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.runtime: Runtime | None = None
        self.error: BaseException | None = None


class RuntimeCache:
    """LRU cache of runtimes by ``nbytes``: thread-safe, one load per key at a time.

    A runtime larger than ``max_bytes`` is returned but not kept. A failed load is not cached: every
    caller waiting on it gets the error and the next call loads again.
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._runtimes: OrderedDict[str, Runtime] = OrderedDict()
        self._bytes = 0
        self._loads: dict[str, _Load] = {}
        self._used: dict[str, float] = {}  # when each kept runtime last answered (monotonic)

    @property
    def loaded(self) -> tuple[int, int]:
        """How many runtimes are loaded and the bytes they are estimated to hold (for /metrics)."""
        with self._lock:
            return len(self._runtimes), self._bytes

    def get(self, key: str, loader: Callable[[], Runtime]) -> Runtime:
        with self._lock:
            runtime = self._runtimes.get(key)
            if runtime is not None:
                self._runtimes.move_to_end(key)
                self._used[key] = time.monotonic()
                return runtime
            load = self._loads.get(key)
            owner = load is None
            if owner:
                load = self._loads[key] = _Load()
        if not owner:
            load.done.wait()
            if load.error is not None:
                raise load.error
            return load.runtime
        try:
            load.runtime = loader()
        except BaseException as exc:
            load.error = exc
            raise
        finally:
            with self._lock:
                # clear() may have dropped this load meanwhile: then its result must not be kept
                if self._loads.get(key) is load:
                    del self._loads[key]
                    if load.runtime is not None:
                        self._keep(key, load.runtime)
            load.done.set()
        return load.runtime

    def peek(self, key: str) -> Runtime | None:
        """The runtime if it is loaded, without loading it or changing the eviction order (it counts as used)."""
        runtime = self._runtimes.get(key)
        if runtime is not None:
            self._used[key] = time.monotonic()
        return runtime

    def clear(self) -> None:
        """Forget every runtime; loads in progress still answer their callers but are not kept."""
        with self._lock:
            self._runtimes.clear()
            self._loads.clear()
            self._used.clear()
            self._bytes = 0

    def release_idle(self, seconds: float) -> int:
        """Drop the runtimes unused for `seconds` and hand their memory back to the system; returns how many.

        The freed memory is returned by collecting (the runtimes were frozen out of the collector's view at
        load) and by asking the C allocator to trim, so the process's resident size falls back, not only
        Python's heap."""
        cutoff = time.monotonic() - seconds
        with self._lock:
            idle = [key for key in self._runtimes if self._used.get(key, 0.0) < cutoff]
            for key in idle:
                self._bytes -= self._runtimes.pop(key).nbytes
                self._used.pop(key, None)
        if idle:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            _trim()
        return len(idle)

    def _keep(self, key: str, runtime: Runtime) -> None:
        if runtime.nbytes > self.max_bytes:
            return
        # A load leaves long-lived objects (the libraries it imported, the session); so does startup. Left to
        # the cyclic collector, each full collection rescans them all (tens of ms, microseconds per predict
        # on average); frozen, they are still freed by reference counting when evicted.
        gc.freeze()
        self._runtimes[key] = runtime
        self._used[key] = time.monotonic()
        self._bytes += runtime.nbytes
        while self._bytes > self.max_bytes:
            evicted_key, evicted = self._runtimes.popitem(last=False)
            self._used.pop(evicted_key, None)
            self._bytes -= evicted.nbytes

    def __len__(self) -> int:
        return len(self._runtimes)

    def __contains__(self, key: str) -> bool:
        return key in self._runtimes


def _trim() -> None:
    """glibc keeps freed pages in its arenas; malloc_trim returns them (a no-op elsewhere)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)
