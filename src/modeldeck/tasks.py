"""Tasks on the client: a submitted predict or chat you can watch, wait for, and cancel.

`deck.predict(..., wait=False)` and `deck.chat(..., wait=False)` return one. The work runs on the platform,
so it goes on when the notebook's kernel restarts; `deck.task(id)` finds it again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .errors import DeckError, error_from_payload
from .resources import Completion, Prediction, TaskRecord

POLL_FIRST, POLL_MAX = 0.1, 2.0


def outcome(record: TaskRecord) -> Any:
    """A finished task's result as the synchronous call would have returned it, or its error raised."""
    if record.status == "SUCCEEDED":
        result = record.result or {}
        return Completion.from_json(result) if record.kind == "chat" else Prediction.from_json(result)
    if record.status == "FAILED":
        raise error_from_payload(422, {**(record.error or {}), "code": (record.error or {}).get("code") or "Task.Failed"})
    raise DeckError(f"Task {record.id} was canceled.", code="Task.Canceled", status=409, hint="Submit it again.")


class Task:
    """A task of a `Deck`: `.status`, `.wait(progress=True)`, `.result()`, `.cancel()`."""

    def __init__(self, deck: Any, record: TaskRecord) -> None:
        self._deck, self.record = deck, record

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def status(self) -> str:
        """The current state, asked of the platform unless the task already finished."""
        if not self.record.finished:
            self.refresh()
        return self.record.status

    def refresh(self) -> TaskRecord:
        self.record = self._deck.task(self.id).record
        return self.record

    def wait(
        self,
        timeout: float | None = None,
        *,
        progress: bool = False,
        watch: Callable[[TaskRecord], None] | None = None,
    ) -> TaskRecord:
        """Block until the task finishes (polling with backoff); a progress bar in notebooks if asked, and
        `watch(record)` after each poll of an unfinished task (the panel shows its status live)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay, bar = POLL_FIRST, None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=100, desc=f"{self.record.kind} {self.record.model}", unit="%")
        try:
            while not self.refresh().finished:
                if watch is not None:
                    watch(self.record)
                if bar is not None and self.record.progress is not None:
                    bar.update(round(self.record.progress * 100) - bar.n)
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"task {self.id} still {self.record.status} after {timeout} s")
                time.sleep(delay)
                delay = min(delay * 1.5, POLL_MAX)
        finally:
            if bar is not None:
                bar.close()
        return self.record

    def result(self, timeout: float | None = None) -> Any:
        """Wait, then the Prediction or Completion; a failed task raises its typed error."""
        return outcome(self.wait(timeout))

    def cancel(self) -> TaskRecord:
        self.record = self._deck.cancel_task(self.id).record
        return self.record

    def __repr__(self) -> str:
        return f"Task(id={self.id!r}, kind={self.record.kind!r}, model={self.record.model!r}, status={self.record.status!r})"

    def _repr_html_(self) -> str:
        return self.record._repr_html_()


class AsyncTask:
    """The async counterpart of Task: `await task.wait()`, `await task.result()`, `await task.cancel()`."""

    def __init__(self, deck: Any, record: TaskRecord) -> None:
        self._deck, self.record = deck, record

    @property
    def id(self) -> str:
        return self.record.id

    async def refresh(self) -> TaskRecord:
        self.record = (await self._deck.task(self.id)).record
        return self.record

    async def wait(self, timeout: float | None = None) -> TaskRecord:
        async def poll() -> None:
            delay = POLL_FIRST
            while not (await self.refresh()).finished:
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, POLL_MAX)

        await asyncio.wait_for(poll(), timeout)
        return self.record

    async def result(self, timeout: float | None = None) -> Any:
        return outcome(await self.wait(timeout))

    async def cancel(self) -> TaskRecord:
        self.record = (await self._deck.cancel_task(self.id)).record
        return self.record

    def __repr__(self) -> str:
        return f"AsyncTask(id={self.id!r}, kind={self.record.kind!r}, status={self.record.status!r})"
