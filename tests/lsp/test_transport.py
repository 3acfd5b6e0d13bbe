"""The wire under attack: malformed framing and JSON over stdio (the server answers or skips, then
serves the next message; it never goes deaf), and TCP (a non-loopback address needs --allow-remote and
a token; with a token, a peer is served only once its `initialize` carries it).

The servers here run without a workspace folder: no model loads, so each test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lsp.transport import Framer, FramingError, check_token
from tests.lsp.conftest import DEADLINE_S, SERVER, frame, listening, read_message

asyncio_test = pytest.mark.asyncio(loop_scope="package")

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
TOKEN = "s3cret-token-for-tests"


def request(msg_id: int, method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


def initialize(msg_id: int = 1, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return request(msg_id, "initialize", {"processId": os.getpid(), "capabilities": {},
                                          "initializationOptions": options or {}})


def notification(method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


# -- the framer, without a server ----------------------------------------------------------------

A = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
B = b'{"jsonrpc":"2.0","method":"exit"}'


@pytest.mark.parametrize("garbage,reason", [
    (b"Content-Length: abc\r\n\r\n", "not a number"),
    (b'Content-Length: abc\r\n\r\n{"jsonrpc": "2.0", "id": 9}', "not a number"),
    (b'Content-Type: application/json\r\n\r\n{"jsonrpc": "2.0"}', "without a Content-Length"),
    (b'\r\n{"jsonrpc": "2.0", "method": "x"}', "not an LSP header"),
    (b"hello\n\n\n", "not an LSP header"),
    (b"Content-Length: 99999999999\r\n\r\n{}", "at most"),
    (b"x" * 100_000, "longer than"),
], ids=["bad-length", "bad-length-and-body", "no-length", "stray-body", "not-headers", "too-long",
        "endless-line"])
@pytest.mark.parametrize("chunk", [1, 7, 65536])
def test_the_framer_reports_garbage_once_and_finds_the_next_message(garbage: bytes, reason: str,
                                                                    chunk: int) -> None:
    data = garbage + frame(A) + frame(B)
    framer = Framer(max_message=10_000)
    events: list[bytes | FramingError] = []
    for i in range(0, len(data), chunk):
        events += framer.feed(data[i:i + chunk])
    errors = [e.reason for e in events if isinstance(e, FramingError)]
    assert [e for e in events if isinstance(e, bytes)] == [A, B]
    assert len(errors) == 1 and reason in errors[0]


def test_the_framer_holds_little_of_a_line_without_end() -> None:
    framer = Framer()
    for _ in range(100):
        framer.feed(b"y" * 65536)
    assert len(framer._buf) < 70_000
    assert framer.feed(b"\r\n" + frame(A)) == [A]


def test_check_token_takes_only_an_initialize_carrying_the_token() -> None:
    def body(message: dict[str, Any]) -> bytes:
        return frame(message).split(b"\r\n\r\n", 1)[1]

    kept, msg_id = check_token(body(initialize(5, {"token": TOKEN, "threshold": 0.5})), TOKEN)
    assert msg_id == 5 and kept is not None and b"token" not in kept and b"threshold" in kept
    for message in (initialize(6, {"token": "wrong"}), initialize(7), request(8, "shutdown"),
                    initialize(9, {"token": TOKEN[:-1]}), initialize(10, {"token": 12345})):
        assert check_token(body(message), TOKEN) == (None, message["id"])
    assert check_token(b"not json", TOKEN) == (None, None)


# -- stdio ---------------------------------------------------------------------------------------


class Raw:
    """A server over stdio driven byte by byte."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.proc, self.stdin, self.stdout = proc, proc.stdin, proc.stdout
        self.stderr = asyncio.create_task(proc.stderr.read())

    @classmethod
    async def start(cls, *args: str) -> Raw:
        return cls(await asyncio.create_subprocess_exec(
            *SERVER, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))

    def send(self, data: bytes) -> None:
        self.stdin.write(data)

    async def answer(self, msg_id: int | None) -> dict[str, Any]:
        """The next response to `msg_id` (None: an error with id null); notifications are skipped."""
        while True:
            message = await asyncio.wait_for(read_message(self.stdout), DEADLINE_S)
            assert message is not None, "the server closed stdout"
            if "method" not in message and message.get("id") == msg_id:
                return message

    async def stop(self) -> tuple[int, str]:
        """shutdown, exit; the exit status and stderr."""
        self.send(frame(request(99, "shutdown")))
        assert "result" in await self.answer(99)
        self.send(frame(notification("exit")))
        await self.stdin.drain()
        self.stdin.close()
        code = await asyncio.wait_for(self.proc.wait(), DEADLINE_S)
        return code, (await self.stderr).decode("utf-8", "replace")

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@asyncio_test
async def test_a_bad_header_is_logged_and_the_next_message_answered() -> None:
    """The reported attack: one `Content-Length: abc` used to leave the server deaf to everything,
    shutdown and exit included."""
    raw = await Raw.start()
    try:
        raw.send(b"Content-Length: abc\r\n\r\n" + frame(initialize(1)))
        assert "capabilities" in (await raw.answer(1))["result"]
        raw.send(frame(notification("initialized", {})))
        # a message without Content-Length: its body runs into the next header line
        raw.send(b'Content-Type: application/json\r\n\r\n{"jsonrpc": "2.0", "id": 2, "method": "shutdown"}')
        raw.send(frame(request(3, "workspace/symbol", {"query": "x"})))
        assert (await raw.answer(3))["result"] is None  # served (no workspace: nothing found)
        code, stderr = await raw.stop()
    finally:
        await raw.kill()
    assert code == 0
    assert "Content-Length is not a number: 'abc'" in stderr
    assert "a message without a Content-Length header" in stderr


@asyncio_test
async def test_malformed_json_is_a_parse_error_and_the_next_message_is_answered() -> None:
    raw = await Raw.start()
    try:
        raw.send(frame(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {'))
        error = await raw.answer(None)
        assert error["error"]["code"] == PARSE_ERROR and "id" in error
        raw.send(frame(b"\xff\xfe not utf-8"))
        assert (await raw.answer(None))["error"]["code"] == PARSE_ERROR
        raw.send(frame(b"[1, 2, 3]"))
        assert (await raw.answer(None))["error"]["code"] == INVALID_REQUEST
        raw.send(frame(initialize(1)))
        assert "capabilities" in (await raw.answer(1))["result"]
        code, _ = await raw.stop()
    finally:
        await raw.kill()
    assert code == 0


# -- TCP -----------------------------------------------------------------------------------------


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*SERVER, *args, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(), DEADLINE_S)
    return await proc.wait(), (out + err).decode("utf-8", "replace")


@pytest.mark.parametrize("args,env", [
    (("--tcp", "0.0.0.0:0"), {}),
    (("--tcp", "0.0.0.0:0", "--allow-remote"), {}),
    (("--tcp", "0.0.0.0:0", "--token", TOKEN), {}),
    (("--tcp", "0.0.0.0:0"), {"SHUTKA_LSP_TOKEN": TOKEN}),
    (("--tcp", "0.0.0.0:0", "--allow-remote", "--token", ""), {}),
])
@asyncio_test
async def test_a_remote_address_is_refused_without_the_flag_and_a_token(args: tuple[str, ...],
                                                                       env: dict[str, str]) -> None:
    env = {"SHUTKA_LSP_TOKEN": "", **env}
    code, output = await run_cli(*args, env=env)
    assert code == 2
    assert "refusing to listen on 0.0.0.0" in output and "--allow-remote" in output
    assert "SHUTKA_LSP_TOKEN" in output and "listening" not in output


@asyncio_test
async def test_the_help_documents_the_remote_rule() -> None:
    code, output = await run_cli("--help")
    assert code == 0
    assert "--allow-remote" in output and "SHUTKA_LSP_TOKEN" in output and "initializationOptions.token" in output


async def _exchange(address: str, data: bytes) -> tuple[dict[str, Any] | None, bool]:
    """Send `data` on a new connection: (the first message back, whether the server then closed it)."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        first = await asyncio.wait_for(read_message(reader), DEADLINE_S)
        closed = await asyncio.wait_for(reader.read(), DEADLINE_S) == b""
        return first, closed
    finally:
        writer.close()


@asyncio_test
async def test_with_a_token_only_a_peer_that_shows_it_is_served(tmp_path: Path) -> None:
    """--allow-remote on 0.0.0.0 with the token from the environment; peers connect over loopback."""
    proc = await asyncio.create_subprocess_exec(
        *SERVER, "--tcp", "0.0.0.0:0", "--allow-remote", stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env={**os.environ, "SHUTKA_LSP_TOKEN": TOKEN})
    assert proc.stderr is not None
    try:
        address = await asyncio.wait_for(listening(proc.stderr), DEADLINE_S)
        address = "127.0.0.1:" + address.rsplit(":", 1)[1]
        refused = [
            frame(initialize(1)),                                       # no token
            frame(initialize(2, {"token": "guess"})),                   # a wrong one
            frame(request(3, "workspace/executeCommand",                # anything before initialize
                          {"command": "shutka.titans.save", "arguments": [str(tmp_path / "x.pt")]})),
            b"Content-Length: abc\r\n\r\n",                            # not even a message
        ]
        for i, data in enumerate(refused, 1):
            answer, closed = await _exchange(address, data)
            assert answer is not None and answer["error"]["code"] == INVALID_REQUEST, answer
            assert answer["id"] == (i if i < 4 else None) and "token" in answer["error"]["message"]
            assert closed
        assert not (tmp_path / "x.pt").exists()

        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(frame(initialize(1, {"token": TOKEN})) + frame(notification("initialized", {})))
        messages = []
        while (message := await asyncio.wait_for(read_message(reader), DEADLINE_S)) is not None:
            messages.append(message)
            if message.get("id") == 1:
                break
        assert "capabilities" in messages[-1]["result"]
        shown = [m["params"]["message"] for m in messages if m.get("method") == "window/showMessage"]
        assert not any("initializationOptions" in text for text in shown)  # the token is no option
        writer.write(frame(request(2, "shutdown")))
        while (message := await asyncio.wait_for(read_message(reader), DEADLINE_S)) is not None:
            if message.get("id") == 2:
                break
        writer.write(frame(notification("exit")))
        await writer.drain()
        assert await asyncio.wait_for(proc.wait(), DEADLINE_S) == 0
        writer.close()
        stderr = (await proc.stderr.read()).decode()
        assert TOKEN not in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
