"""Request-size limit applied before any parsing: an oversize body is refused with 413, OpenAI-style.

A declared `Content-Length` over the limit is answered at once, without reading a byte of the body;
a chunked body is counted as it arrives and refused as soon as it crosses the limit.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api.errors import error_body


def too_large_message(size: int, limit: int) -> str:
    return f"Request body is {size} bytes or more; this server accepts at most {limit} bytes ([server] max_request_bytes)."


class BodyLimitMiddleware:
    """Pure ASGI: no buffering, no parsing; streaming responses pass through untouched."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_413(send, too_large_message(declared, self.max_bytes))
            return
        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes FastAPI's body reader untouched and reaches the
                    # error handlers, which render it in OpenAI's shape.
                    raise HTTPException(413, too_large_message(received, limit))
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, message: str) -> None:
    body = json.dumps(error_body(message, code="request_too_large")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
