"""Running the app under uvicorn on a socket bound beforehand (so port 0 works and the address is
known before serving), and the loopback rule for addresses without an API key."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GRACEFUL_SHUTDOWN_S = 10
"""Open streams get this long to finish at shutdown before the runtime is closed anyway."""


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback one (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0: a free one), not yet listening. Raises OSError."""
    family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(app: ASGIApp, **options: Any) -> uvicorn.Server:
    """uvicorn with Shutka's logging (no config of its own) and the lifespan required."""
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, **options)
    return uvicorn.Server(config)


class QuietStartupFailure:
    """Drops the traceback text of a failed lifespan start-up, which uvicorn would log: the failure is a
    domain error the command line reports as one line itself (the app keeps it in `state.startup_error`)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def quiet_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed" and self.app.state.startup_error is not None:
                message = {**message, "message": ""}
            await send(message)

        await self.app(scope, receive, quiet_send)
