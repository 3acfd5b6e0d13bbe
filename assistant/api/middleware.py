"""What is checked before any route runs, OpenAI-style errors both:

- the `Host` header must name this server (421 otherwise): a web page whose own name an attacker has
  pointed at 127.0.0.1 (DNS rebinding) sends its own name, so it cannot read the workspace through a
  server on loopback;
- the request-size limit, applied before any parsing: an oversize body is refused with 413. A declared
  `Content-Length` over the limit is answered at once, without reading a byte of the body; a chunked
  body is counted as it arrives and refused as soon as it crosses the limit.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api.errors import error_body
from assistant.api.server import is_loopback

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
ANY_HOST = "*"


def _canonical(name: str) -> str:
    """Lower-case; an IP address in its normal form (`0:0::1` -> `::1`)."""
    name = name.strip().lower()
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return name


def host_name(header: str) -> str | None:
    """The name a `Host` header gives, without its port and canonical (`[::1]:8000` -> `::1`); None when
    the header is malformed (a bare IPv6 address, a port that is not a number, nothing before the port)."""
    header = header.strip()
    if header.startswith("["):
        name, bracket, rest = header[1:].partition("]")
        if not bracket:
            return None
    else:
        name, colon, port = header.partition(":")
        rest = colon + port
    if not name or (rest and not (rest[0] == ":" and rest[1:].isascii() and rest[1:].isdigit())):
        return None
    return _canonical(name)


@dataclass(frozen=True)
class HostPolicy:
    """The names a request's `Host` header may give, from the bound address and `[server] allowed_hosts`.

    Bound to loopback: localhost, 127.0.0.1, [::1] (and the bound address). Bound to one address: that
    address. Bound to every interface (0.0.0.0, ::): the loopback names and any IP address (an address
    typed as such cannot be re-bound by DNS). Names in `allowed` are added; "*" accepts any Host."""

    names: frozenset[str]
    any_address: bool = False
    any_name: bool = False

    @classmethod
    def for_address(cls, bound: str, allowed: Iterable[str] = ()) -> HostPolicy:
        allowed = list(allowed)
        names = {_canonical(name) for name in allowed if name != ANY_HOST}
        address = _canonical(bound)
        try:
            wildcard = ipaddress.ip_address(address).is_unspecified
        except ValueError:
            wildcard = False
        if wildcard:
            names |= LOOPBACK_NAMES
        elif is_loopback(address):
            names |= LOOPBACK_NAMES | {address}
        else:
            names.add(address)
        return cls(frozenset(names), any_address=wildcard, any_name=ANY_HOST in allowed)

    def allows(self, header: str | None) -> bool:
        if self.any_name:
            return True
        name = host_name(header) if header is not None else None
        if name is None:
            return False
        if name in self.names:
            return True
        if self.any_address:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    def describe(self) -> str:
        shown = sorted(f"[{n}]" if ":" in n else n for n in self.names)
        if self.any_address:
            shown.append("any IP address")
        return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]


def misdirected_message(header: str | None, policy: HostPolicy) -> str:
    given = f"Host header {header[:200]!r}" if header is not None else "A request without a Host header"
    return (f"{given} does not name this server, which answers only to {policy.describe()}: other names are "
            "refused so that a web page cannot reach it by pointing its own name at this machine (DNS "
            "rebinding). To use another name, start the server with --allowed-host NAME.")


class HostCheckMiddleware:
    """Pure ASGI: refuses, with 421 and OpenAI's error body, every HTTP request whose `Host` header the
    policy does not allow, before routing (so /health, /docs and unknown URLs are covered too)."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts = [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"host"]
        header = ", ".join(hosts) if hosts else None  # several Host headers are refused as one odd name
        if len(hosts) == 1 and self.policy.allows(header):
            await self.app(scope, receive, send)
            return
        await _send_error(send, 421, misdirected_message(header, self.policy), "invalid_host")


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
    await _send_error(send, 413, message, "request_too_large")


async def _send_error(send: Send, status: int, message: str, code: str) -> None:
    body = json.dumps(error_body(message, code=code)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
