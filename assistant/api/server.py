"""Running the app under uvicorn on a socket bound beforehand (so port 0 works and the address is
known before serving), a graceful stop on SIGINT/SIGTERM, and the loopback rule for addresses without an
API key."""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

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


@contextlib.contextmanager
def graceful_signals(server: uvicorn.Server) -> Iterator[None]:
    """While `server` runs in the main thread: SIGINT and SIGTERM stop it gracefully and are then done with.

    uvicorn raises the signal that stopped it again once it has shut down, through the handler it found
    installed; with Python's defaults that kills the process (SIGTERM: exit -15) or raises KeyboardInterrupt
    before the command has closed the runtime (flushed the bank, saved the Titans memory). The handlers
    installed here only ask the server to stop, so the command finishes its own shutdown and exits 0."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
