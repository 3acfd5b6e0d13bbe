"""The wire: a protocol that answers requests whose params cannot be read, and TCP on a socket the
caller bound (so `--tcp HOST:0` can announce its port before serving). Stdio is pygls' own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from typing import Any

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

_ANSWERED = object()
"""A request whose params could not be read and that was already answered with an error."""


class ShutkaProtocol(LanguageServerProtocol):
    """pygls' protocol, plus an InvalidParams answer to a request whose params do not fit its type
    (pygls only logs those, and the client would wait forever)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not ("id" in data and "method" in data):
                raise
            cause = exc.__cause__ or exc
            log.warning("invalid params for %s (id %s): %s", data.get("method"), data.get("id"), cause)
            error = JsonRpcInvalidParams(f"invalid params for {data['method']}: {cause}")
            self._send_response(data["id"], error=error.to_response_error())
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is _ANSWERED:
            return
        super().handle_message(message)


def serve_tcp(server: LanguageServer, sock: socket.socket) -> None:
    """Serve one client on an already-bound, listening socket; return when it disconnects or exits."""
    server._stop_event = stop_event = threading.Event()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        await run_async(stop_event=stop_event, reader=reader, protocol=server.protocol, logger=log,
                        error_handler=server.report_server_error)
        server.shutdown()

    async def serve() -> None:
        server._server = await asyncio.start_server(connection, sock=sock)
        async with server._server:
            with contextlib.suppress(asyncio.CancelledError):
                await server._server.serve_forever()

    with contextlib.suppress(SystemExit):  # the client sent `exit`
        asyncio.run(serve())
