"""Operations: request metrics in the Prometheus text format, and one JSON log line per request.

`Observe` wraps the whole ASGI app (the predict and chat lanes too) and costs one clock read on each side
of a request, a few dict updates and, when the access log is on, one JSON line: no locks, since every
request is observed on the event loop's thread. Routes are recorded by their template
(`/api/v1/models/{model}/predict`), never by the raw path, so neither names nor keys pasted into a URL
reach a label or a log line; headers are never logged at all.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .schema import Task, Upload

if TYPE_CHECKING:
    from .context import Services

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "unmatched"  # a path no route serves (its text may be anything a caller typed)
SUBSCRIPTION = "/api/v1/events"  # a change-event stream: open for as long as its subscriber stays


class Metrics:
    """Counters and latency histograms by route template, kept for the life of the process."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, list[float]] = {}  # route -> count per bucket (and past the last), sum, count
        self.internal_errors = 0
        self.upload_bytes = 0
        self.in_flight = 0  # requests being answered, event subscriptions (which mostly wait) apart
        self.pages = {True: 0, False: 0}  # listing pages answered as kept (True) or read anew (`listings`)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        histogram = self.latency.get(route)
        if histogram is None:
            histogram = self.latency[route] = [0.0] * (len(BUCKETS) + 3)
        histogram[bisect.bisect_left(BUCKETS, seconds)] += 1
        histogram[-2] += seconds
        histogram[-1] += 1

    def render(self, platform: Services) -> str:
        """The exposition text: what this process counted, plus gauges read from the store now."""
        out = [
            "# HELP modeldeck_requests_total HTTP requests by method, route template and status.",
            "# TYPE modeldeck_requests_total counter",
        ]
        for (method, route, status), n in sorted(self.requests.items()):
            out.append(f'modeldeck_requests_total{{method="{method}",route="{_escape(route)}",status="{status}"}} {n}')
        out += [
            "# HELP modeldeck_request_duration_seconds Time to answer a request, by route template.",
            "# TYPE modeldeck_request_duration_seconds histogram",
        ]
        for route, histogram in sorted(self.latency.items()):
            label = f'route="{_escape(route)}"'
            cumulative = 0.0
            for bound, n in zip((*BUCKETS, "+Inf"), histogram[:-2]):
                cumulative += n
                out.append(f'modeldeck_request_duration_seconds_bucket{{{label},le="{bound}"}} {cumulative:g}')
            out.append(f"modeldeck_request_duration_seconds_sum{{{label}}} {histogram[-2]:.6f}")
            out.append(f"modeldeck_request_duration_seconds_count{{{label}}} {histogram[-1]:g}")
        with platform.store.read() as db:
            uploads = db.scalar(select(func.count()).select_from(Upload)) or 0
            tasks = dict(db.execute(select(Task.status, func.count()).group_by(Task.status)).all())
        runtimes = platform.__dict__.get("runtimes")  # only once a predict created the cache
        loaded, loaded_bytes = runtimes.loaded if runtimes is not None else (0, 0)
        out += [
            "# HELP modeldeck_internal_errors_total Requests that failed inside the platform (500).",
            "# TYPE modeldeck_internal_errors_total counter",
            f"modeldeck_internal_errors_total {self.internal_errors}",
            "# HELP modeldeck_requests_in_flight Requests this process is answering, event subscriptions apart.",
            "# TYPE modeldeck_requests_in_flight gauge",
            f"modeldeck_requests_in_flight {self.in_flight}",
            "# HELP modeldeck_listing_pages_total Listing pages answered kept (the database unchanged) or read anew.",
            "# TYPE modeldeck_listing_pages_total counter",
            f'modeldeck_listing_pages_total{{answer="kept"}} {self.pages[True]}',
            f'modeldeck_listing_pages_total{{answer="read"}} {self.pages[False]}',
            "# HELP modeldeck_upload_bytes_total Upload bytes received by this process.",
            "# TYPE modeldeck_upload_bytes_total counter",
            f"modeldeck_upload_bytes_total {self.upload_bytes}",
            "# HELP modeldeck_uploads_in_progress Uploads started and not yet completed (all replicas).",
            "# TYPE modeldeck_uploads_in_progress gauge",
            f"modeldeck_uploads_in_progress {uploads}",
            "# HELP modeldeck_runtimes_loaded Checkpoints loaded for inference in this process.",
            "# TYPE modeldeck_runtimes_loaded gauge",
            f"modeldeck_runtimes_loaded {loaded}",
            "# HELP modeldeck_runtimes_loaded_bytes Memory held by the loaded checkpoints (estimated).",
            "# TYPE modeldeck_runtimes_loaded_bytes gauge",
            f"modeldeck_runtimes_loaded_bytes {loaded_bytes}",
            "# HELP modeldeck_tasks Tasks by status (all replicas).",
            "# TYPE modeldeck_tasks gauge",
        ]
        for status in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"):
            out.append(f'modeldeck_tasks{{status="{status}"}} {tasks.get(status, 0)}')
        return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def route_of(scope: Scope) -> str:
    """The template of the route that served the request (the lanes name theirs in `route_template`)."""
    template = scope.get("route_template")
    if template is not None:
        return template
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class Observe:
    """Counts and times every request; with the access log enabled, one JSON line each."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500  # unless the app answers at all
        counted = scope["path"] != SUBSCRIPTION
        if counted:
            self.metrics.in_flight += 1  # one event loop: no lock needed

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if counted:
                self.metrics.in_flight -= 1
            elapsed = time.perf_counter() - start
            route = route_of(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            if access_log.stream is not None:
                access_log.write({
                    "request_id": scope.get("state", {}).get("request_id"), "method": scope["method"],
                    "route": route, "status": status, "duration_ms": round(elapsed * 1000, 3),
                })  # fmt: skip


FLUSH_AFTER = 0.2  # seconds an access-log line may wait in the buffer


class AccessLog:
    """One JSON line per request, written straight to a buffered stream that is flushed at most
    FLUSH_AFTER seconds after a line lands: the logging module's records, handler lock and formatter would
    cost a small predict several times what this does, and stderr writes through (a system call on the
    event loop for every request, a tenth of a listing's time on a loaded machine)."""

    def __init__(self) -> None:
        self.stream: BinaryIO | None = None
        self._flush_due = False

    def write(self, fields: dict[str, Any]) -> None:
        line = {"ts": _now(), "level": "info", "logger": "modeldeck.access", "message": "request", **fields}
        assert self.stream is not None
        self.stream.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)  # Observe runs on the loop

    def flush(self) -> None:
        """Out with what is buffered (also when the server stops)."""
        self._flush_due = False
        if self.stream is not None:
            self.stream.flush()


access_log = AccessLog()


def _now(created: float | None = None) -> str:
    when = datetime.fromtimestamp(time.time() if created is None else created, timezone.utc)
    return when.isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's fields, an exception's type
    and traceback (code locations, never values)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _now(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def log_as_json() -> None:
    """`modeldeck serve`: the platform's loggers write JSON lines to stderr, the access log included."""
    access_log.stream = open(sys.stderr.fileno(), "wb", buffering=1 << 16, closefd=False)  # noqa: SIM115
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("modeldeck", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
