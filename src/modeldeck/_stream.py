"""Server-sent events from the chat endpoint, as iterators of `Chunk` that close their connection.

The response is opened before the iterator is returned, so a refused request raises at the call, not at
the first `next()`. Breaking out of the loop (or `close()`) closes the stream, which tells the platform to
stop generating.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from ._http import Call, _request_kwargs, raise_for, unwrap_error
from .errors import error_from_payload
from .resources import Chunk


def _chunk(line: str) -> Chunk | None:
    """A `data:` line as a Chunk; None for keep-alives, comments and the final `[DONE]`."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    payload: dict[str, Any] = json.loads(data)
    if "error" in payload:
        raise error_from_payload(500, unwrap_error(payload))
    return Chunk.from_json(payload)


class ChunkStream:
    def __init__(self, client: httpx.Client, call: Call) -> None:
        request = client.build_request(call.method, call.path, **_request_kwargs(call))
        self._response = client.send(request, stream=True)
        if not self._response.is_success:
            self._response.read()
            self._response.close()
            raise_for(self._response)
        self._lines = self._response.iter_lines()

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        try:
            for line in self._lines:
                chunk = _chunk(line)
                if chunk is not None:
                    return chunk
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
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._lines = response.aiter_lines()

    @classmethod
    async def open(cls, client: httpx.AsyncClient, call: Call) -> AsyncChunkStream:
        request = client.build_request(call.method, call.path, **_request_kwargs(call))
        response = await client.send(request, stream=True)
        if not response.is_success:
            await response.aread()
            await response.aclose()
            raise_for(response)
        return cls(response)

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self

    async def __anext__(self) -> Chunk:
        try:
            async for line in self._lines:
                chunk = _chunk(line)
                if chunk is not None:
                    return chunk
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
