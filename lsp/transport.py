"""The wire: LSP framing read by our own loop (pygls' loop goes deaf after one malformed header), a
protocol that answers requests whose params cannot be read, stdio, and TCP on a socket the caller
bound (so `--tcp HOST:0` can announce its port before serving), optionally behind a token.

Framing errors never stop the server: bad JSON is answered with a ParseError (-32700, id null), a
bad header is logged to stderr and skipped, and reading resumes at the next `Content-Length: N`
header line. Memory stays bounded whatever arrives: header lines, bodies and the read-ahead all
have limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""A longer Content-Length is a framing error (its body is skipped like any other garbage). Large
buffers are cut later, to `[completion] max_document_bytes`; this bounds what one message may hold."""
MAX_UNAUTHENTICATED_BYTES = 64 * 1024
"""The most a peer that has not shown the token may send in one message (its `initialize`)."""
MAX_HEADER_LINE = 8 * 1024
"""A longer header line is garbage: it is dropped, keeping only the tail in which a header may start."""
CHUNK = 64 * 1024
"""Bytes read at a time."""
AUTH_TIMEOUT_S = 30.0
"""How long a TCP peer may take to send its `initialize` when a token is required."""

CONTENT_LENGTH = b"Content-Length:"
HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*\r?\n")
RESYNC = re.compile(rb"Content-Length:[ \t]*(\d+)[ \t]*\r?\n")
PARSE_ERROR = JsonRpcParseError.CODE
INVALID_REQUEST = JsonRpcInvalidRequest.CODE

_ANSWERED = object()
"""A request whose params could not be read and that was already answered with an error."""


class ShutkaProtocol(LanguageServerProtocol):
    """pygls' protocol, plus an InvalidParams answer to a request whose params do not fit its type
    (pygls only logs those, and the client would wait forever), and a look at each didChange before
    pygls applies it (`before_change`: the server drops edits past the head of a document it cut)."""

    before_change: Callable[[types.DidChangeTextDocumentParams], None] | None = None

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
        if self.before_change is not None and isinstance(message, types.DidChangeTextDocumentNotification):
            self.before_change(message.params)
        super().handle_message(message)

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        """A JSON-RPC error response, `id` null included (pygls' own serialiser drops a null id)."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})


# -- framing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FramingError:
    """Bytes that are not an LSP message; they were skipped (the reason goes to the log)."""

    reason: str


class Framer:
    """LSP framing without I/O: `feed(bytes)` returns the complete message bodies and FramingErrors,
    in order. Headers are `Name: value` lines ended by a blank line; Content-Length is required.
    After an error, everything up to the next line that ends in `Content-Length: N` is skipped
    (the line may carry the tail of a broken message before the header) and one error is reported."""

    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._length: int | None = None
        """The body's length once its headers are read."""
        self._declared: int | None = None
        """Content-Length of the header block being read."""
        self._in_headers = False
        self._lost = False
        """Between a framing error and the next Content-Length header."""

    def feed(self, data: bytes) -> list[bytes | FramingError]:
        self._buf += data
        out: list[bytes | FramingError] = []
        while True:
            if self._length is not None:
                if len(self._buf) < self._length:
                    break
                out.append(bytes(self._buf[:self._length]))
                del self._buf[:self._length]
                self._length = None
                continue
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > MAX_HEADER_LINE:
                    if not self._lost:
                        out.append(self._lose(f"a header line longer than {MAX_HEADER_LINE} bytes"))
                    del self._buf[:-64]  # a Content-Length header may be starting in the tail
                break
            line = bytes(self._buf[:end + 1])
            del self._buf[:end + 1]
            error = self._line(line)
            if error is not None:
                out.append(error)
        return out

    def _line(self, line: bytes) -> FramingError | None:
        if self._lost:
            start = line.rfind(CONTENT_LENGTH)
            if start < 0 or not RESYNC.fullmatch(line, start):
                return None
            self._lost = False
            line = line[start:]
        if not line.strip():
            if not self._in_headers:
                return None  # a stray blank line between messages
            length, self._declared, self._in_headers = self._declared, None, False
            if length is None:
                return self._lose("a message without a Content-Length header")
            if length > self.max_message:
                return self._lose(f"a message of {length} bytes (at most {self.max_message} are read)")
            self._length = length
            return None
        match = HEADER.fullmatch(line) if len(line) <= MAX_HEADER_LINE else None
        if match is None:
            error = self._lose(f"not an LSP header: {_show(line)}")
            self._line(line)  # the tail of a broken message, then the next header, on one line
            return error
        self._in_headers = True
        if match.group(1).lower() == b"content-length":
            value = match.group(2)
            if not value.isdigit():
                return self._lose(f"Content-Length is not a number: {_show(value)}")
            self._declared = int(value)
        return None

    def _lose(self, reason: str) -> FramingError:
        self._lost, self._in_headers, self._declared = True, False, None
        return FramingError(reason)


def _show(data: bytes, limit: int = 60) -> str:
    text = repr(data[:limit])[1:]
    return text + ("…" if len(data) > limit else "")


# -- the read loop -------------------------------------------------------------------------------


Read = Callable[[], Awaitable[bytes]]
"""The next bytes from the client (b"" at the end)."""


def dispatch(protocol: ShutkaProtocol, body: bytes,
             error_handler: Callable[[Exception, type[JsonRpcException]], Any] | None = None) -> None:
    """Handle one message body: JSON that does not parse is a ParseError, JSON that is not a JSON-RPC
    message an InvalidRequest (both with id null, as the client's id cannot be trusted)."""
    try:
        message = json.loads(body, object_hook=protocol.structure_message)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.warning("a message that is not JSON (%d bytes): %s", len(body), exc)
        protocol.send_error(None, PARSE_ERROR, f"Parse error: {exc}")
        return
    except Exception as exc:  # pygls' own boundary: log, report, go on with the next message
        log.exception("unable to read a message")
        if error_handler is not None:
            error_handler(exc, JsonRpcException)
        return
    if not hasattr(message, "jsonrpc") and message is not _ANSWERED:
        log.warning("not a JSON-RPC message: %s", _show(body))
        protocol.send_error(None, INVALID_REQUEST, "Invalid Request: expected a JSON-RPC 2.0 object")
        return
    try:
        protocol.handle_message(message)
    except Exception as exc:
        log.exception("unable to handle a message")
        if error_handler is not None:
            error_handler(exc, JsonRpcException)


async def read_messages(read: Read, protocol: ShutkaProtocol, stop_event: threading.Event, *,
                        framer: Framer | None = None, early: Sequence[bytes | FramingError] = (),
                        error_handler: Callable[[Exception, type[JsonRpcException]], Any] | None = None) -> None:
    """Handle `early` (messages framed already), then feed what `read` returns through the framer into
    the protocol, until the end of the input or `stop_event`."""
    framer = framer or Framer()
    events = list(early)
    while not stop_event.is_set():
        for event in events:
            if isinstance(event, FramingError):
                log.warning("LSP framing: %s; skipping to the next Content-Length header", event.reason)
            else:
                dispatch(protocol, event, error_handler)
            if stop_event.is_set():
                return
        data = await read()
        if not data:
            log.info("the client closed the connection")
            return
        events = framer.feed(data)


# -- stdio ---------------------------------------------------------------------------------------


def _stdin_reader(stdin: BinaryIO, loop: asyncio.AbstractEventLoop) -> Read:
    """Reads stdin in a daemon thread (a blocked read never holds up the exit), a few chunks ahead."""
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)
    read1 = getattr(stdin, "read1", stdin.read)

    def pump() -> None:
        while True:
            try:
                data = read1(CHUNK)
            except (OSError, ValueError):
                data = b""
            try:
                asyncio.run_coroutine_threadsafe(queue.put(data), loop).result()
            except RuntimeError:  # the loop is gone
                return
            if not data:
                return

    threading.Thread(target=pump, name="shutka-stdin", daemon=True).start()
    return queue.get


def serve_stdio(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Serve over stdin/stdout until `exit` or the end of stdin."""
    server._stop_event = stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))

    async def serve() -> None:
        reader = _stdin_reader(stdin, asyncio.get_running_loop())
        await read_messages(reader, server.protocol, stop_event,  # type: ignore[arg-type]
                            error_handler=server.report_server_error)

    try:
        asyncio.run(serve())
    except BrokenPipeError:
        log.error("the client closed the connection (broken pipe); stopping")
    except (KeyboardInterrupt, SystemExit):  # SystemExit: the client sent `exit`
        pass
    finally:
        stop_event.set()


# -- TCP -----------------------------------------------------------------------------------------


def check_token(body: bytes, token: str) -> tuple[bytes | None, int | str | None]:
    """A peer's first message when a token is required: `(body, id)` with the token removed from the
    body when it is an `initialize` whose `initializationOptions.token` is `token` (the token is no
    option and must not reach the logs), else `(None, id)`, id being what to answer the refusal to."""
    try:
        message = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, None
    if not isinstance(message, dict):
        return None, None
    msg_id = message.get("id") if isinstance(message.get("id"), (int, str)) else None
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    given = options.pop("token", None) if isinstance(options, dict) else None
    if message.get("method") != "initialize" or not isinstance(given, str):
        return None, msg_id
    if not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
        return None, msg_id
    return json.dumps(message).encode("utf-8"), msg_id


def serve_tcp(server: LanguageServer, sock: socket.socket, token: str | None = None) -> None:
    """Serve one client on an already-bound, listening socket; return when it disconnects or exits.
    With `token`, a peer must authenticate first (`check_token`): a refused peer gets an error and is
    disconnected, and the server goes on listening. One client is served at a time."""
    server._stop_event = stop_event = threading.Event()
    serving = False

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal serving
        peer = writer.get_extra_info("peername")
        framer = Framer(MAX_UNAUTHENTICATED_BYTES if token is not None else MAX_MESSAGE_BYTES)
        early = await _authenticate(reader, writer, framer, token, peer) if token is not None else []
        if early is None:
            return
        if serving:
            log.warning("refused %s: a client is already being served", peer)
            writer.close()
            return
        serving = True
        framer.max_message = MAX_MESSAGE_BYTES
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        await read_messages(lambda: reader.read(CHUNK), server.protocol, stop_event,  # type: ignore[arg-type]
                            framer=framer, early=early, error_handler=server.report_server_error)
        server.shutdown()

    async def serve() -> None:
        server._server = await asyncio.start_server(connection, sock=sock)
        async with server._server:
            with contextlib.suppress(asyncio.CancelledError):
                await server._server.serve_forever()

    with contextlib.suppress(SystemExit):  # the client sent `exit`
        asyncio.run(serve())


async def _authenticate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framer: Framer,
                        token: str, peer: Any) -> list[bytes | FramingError] | None:
    """The peer's first message (the token removed) and any that came with it, if it carries the token
    (see `check_token`); otherwise None, and the peer is answered with an InvalidRequest error (to its
    request's id, else null) and disconnected."""
    msg_id: int | str | None = None
    reason = "the connection closed before initialize"
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            while data := await reader.read(CHUNK):
                events = framer.feed(data)
                if not events:
                    continue
                event = events[0]
                if isinstance(event, FramingError):
                    reason = event.reason
                else:
                    first, msg_id = check_token(event, token)
                    if first is not None:
                        log.info("%s authenticated", peer)
                        return [first, *events[1:]]
                    reason = "the first message was not initialize with the right initializationOptions.token"
                break
    except TimeoutError:
        reason = f"no initialize within {AUTH_TIMEOUT_S:.0f} s"
    log.warning("refused %s: %s", peer, reason)
    if not reader.at_eof():
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "error": {
            "code": INVALID_REQUEST, "message": "unauthorized: this server requires a token; send initialize "
                                               "first, with initializationOptions.token"}}).encode("utf-8")
        with contextlib.suppress(ConnectionError):
            writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    writer.close()
    return None
