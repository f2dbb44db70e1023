"""Server-sent events from a chat endpoint, as iterators of `Chunk` that close their connection.

The response is opened before the iterator is returned, so a refused request raises at the call, not at
the first `next()`. Breaking out of the loop (or `close()`) closes the stream, which tells the platform to
stop generating.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx

from ._http import Call, ErrorDecoder, _request_kwargs, raise_for
from .errors import ConnectionFailed
from .resources import Chunk

OPEN_ATTEMPTS = 3  # a keyed stream (one that changes nothing) is opened again when its connection breaks


def _keyed(call: Call) -> bool:
    return "Idempotency-Key" in call.headers


def _cut_off() -> ConnectionFailed:
    """A stream whose connection broke after it began (its text so far cannot be taken back: not retried)."""
    return ConnectionFailed("The answer was cut off mid-way: the connection closed before the end of the stream.",
                            code="Stream.Interrupted", hint="Send the request again; a deployment's other "
                            "replica (or the restarted one) answers it.")  # fmt: skip


# A provider's decoder for one stream: each line of the event stream in, a Chunk out (None for lines that
# carry no text: keep-alives, comments, the end marker). It raises the provider's typed error for an error
# event. A fresh one per stream, so a dialect that sends whole texts can keep what it has already seen.
Decoder = Callable[[str], Chunk | None]


class ChunkStream:
    def __init__(self, client: httpx.Client, call: Call, decode: Decoder, error: ErrorDecoder) -> None:
        for attempt in range(OPEN_ATTEMPTS):
            request = client.build_request(call.method, call.path, **_request_kwargs(call))
            try:
                self._response = client.send(request, stream=True)
                break
            except httpx.TransportError:
                if not _keyed(call) or attempt == OPEN_ATTEMPTS - 1:
                    raise
        if not self._response.is_success:
            self._response.read()
            self._response.close()
            raise_for(self._response, error)
        self._lines = self._response.iter_lines()
        self._decode = decode

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        try:
            for line in self._lines:
                chunk = self._decode(line)
                if chunk is not None:
                    return chunk
        except httpx.TransportError:
            self.close()
            raise _cut_off() from None
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # an abandoned loop still gives its connection back
        response = getattr(self, "_response", None)
        if response is not None:
            response.close()


class AsyncChunkStream:
    def __init__(self, response: httpx.Response, decode: Decoder) -> None:
        self._response = response
        self._lines = response.aiter_lines()
        self._decode = decode

    @classmethod
    async def open(
        cls, client: httpx.AsyncClient, call: Call, decode: Decoder, error: ErrorDecoder
    ) -> AsyncChunkStream:
        for attempt in range(OPEN_ATTEMPTS):
            request = client.build_request(call.method, call.path, **_request_kwargs(call))
            try:
                response = await client.send(request, stream=True)
                break
            except httpx.TransportError:
                if not _keyed(call) or attempt == OPEN_ATTEMPTS - 1:
                    raise
        if not response.is_success:
            await response.aread()
            await response.aclose()
            raise_for(response, error)
        return cls(response, decode)

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self

    async def __anext__(self) -> Chunk:
        try:
            async for line in self._lines:
                chunk = self._decode(line)
                if chunk is not None:
                    return chunk
        except httpx.TransportError:
            await self.aclose()
            raise _cut_off() from None
        except BaseException:
            await self.aclose()
            raise
        await self.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        await self._response.aclose()

    async def __aenter__(self) -> AsyncChunkStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
