"""`shutka serve` as a real process: prints its address, indexes and watches the workspace, answers the
openai client, and flushes the Titans memory when stopped."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.runtime import open_runtime
from tests.assistant.api.helpers import START_TIMEOUT_S, health, new_workspace, wait_until

pytestmark = pytest.mark.e2e
ADDRESS = re.compile(r"shutka serve: (http://\S+)/v1 ")


class ServeProcess:
    """`python -m assistant serve ...` with its stderr read in the background (the address line first)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", *args], cwd=cwd, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._address()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            self.lines.put(line)

    def _address(self) -> str:
        while True:
            try:
                line = self.lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise AssertionError(f"no address line from shutka serve: {''.join(self.log)}") from None
            if m := ADDRESS.search(line):
                return m.group(1)

    def wait_ready(self, headers: dict[str, str] | None = None) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, f"shutka serve exited: {''.join(self.log)}"
            body = health(self.url, headers)
            return body is not None and body["ready"]

        wait_until(ready, f"{self.url}/health")

    def stop(self, sig: int = signal.SIGINT) -> int:  # Ctrl+C by default
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(START_TIMEOUT_S)


@pytest.fixture
def env(tiny_checkpoint: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SHUTKA_API_KEY"}
    env["SHUTKA_CHECKPOINT"] = str(tiny_checkpoint)
    return env


@pytest.fixture
def spawned() -> Iterator[list[ServeProcess]]:
    procs: list[ServeProcess] = []
    yield procs
    for p in procs:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)


def test_serve_indexes_watches_answers_and_flushes(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str],
                                                  spawned: list[ServeProcess], tmp_path: Path) -> None:
    workspace = new_workspace(tmp_path_factory, "cli")
    server = ServeProcess(["--port", "0", "--workspace", str(workspace)], cwd=tmp_path, env=env)
    spawned.append(server)
    server.wait_ready()
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0) as client:
        assert client.completions.create(model="shutka-v2", prompt="const p = ", max_tokens=8).choices
    (workspace / "src" / "extra.ts").write_text("export const answer = 42;\n")
    wait_until(lambda: httpx.get(f"{server.url}/v1/bank/stats").json()["files"] == 5, "the watcher to index a new file")
    titans = workspace / ".shutka" / "titans" / "workspace_titans.pt"
    assert not titans.exists()
    assert server.stop() == 0, "".join(server.log)
    assert titans.is_file(), "".join(server.log)  # shutdown saved the Titans memory
    assert "Traceback" not in "".join(server.log)


def test_serve_defaults_to_the_current_directory_and_reads_the_key_from_the_environment(
        tmp_path_factory: pytest.TempPathFactory, env: dict[str, str], spawned: list[ServeProcess]) -> None:
    workspace = new_workspace(tmp_path_factory, "cwd")
    # A public address is fine once a key is set.
    server = ServeProcess(["--port", "0", "--host", "0.0.0.0"], cwd=workspace, env={**env, "SHUTKA_API_KEY": "k3y"})
    spawned.append(server)
    port = server.url.rsplit(":", 1)[1]
    server.url = f"http://127.0.0.1:{port}"
    server.wait_ready()
    assert (workspace / ".shutka").is_dir()
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
    assert httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer k3y"}).status_code == 200
    server.stop()


def test_a_missing_model_is_one_line_not_a_traceback(tmp_path: Path, env: dict[str, str]) -> None:
    env = {**env, "SHUTKA_CHECKPOINT": str(tmp_path / "none.safetensors"), "SHUTKA_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "assistant", "serve", "--port", "0", "--workspace", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=START_TIMEOUT_S)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "checkpoint not found (from $SHUTKA_CHECKPOINT)" in result.stderr
    assert "shutka serve: http" not in result.stderr  # no address is printed for a server that never serves


def test_sigterm_saves_the_memory_and_exits_0(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str],
                                              spawned: list[ServeProcess], tmp_path: Path,
                                              tiny_checkpoint: Path) -> None:
    workspace = new_workspace(tmp_path_factory, "sigterm")
    server = ServeProcess(["--port", "0", "--workspace", str(workspace)], cwd=tmp_path, env=env)
    spawned.append(server)
    server.wait_ready()
    (workspace / "src" / "extra.ts").write_text("export const answer = 42;\n")
    wait_until(lambda: httpx.get(f"{server.url}/v1/bank/stats").json()["files"] == 5, "the watcher to index a new file")
    episodes = httpx.get(f"{server.url}/v1/titans/stats").json()["episodes"]
    titans = workspace / ".shutka" / "titans" / "workspace_titans.pt"
    assert not titans.exists()
    assert server.stop(signal.SIGTERM) == 0, "".join(server.log)  # not -15: the process finished its shutdown
    assert titans.is_file() and "Traceback" not in "".join(server.log)
    with open_runtime(workspace, checkpoint=tiny_checkpoint, sync=False) as runtime:  # what was flushed
        status = runtime.assistant.status()
        assert status.files == 5 and runtime.assistant.titans_stats().episodes == episodes


@pytest.mark.parametrize("make", ["garbage", "directory"])
def test_a_bad_checkpoint_fails_before_the_address_is_printed(tmp_path: Path, basic_workspace: Path,
                                                               make: str) -> None:
    bad = tmp_path / "model.safetensors"
    if make == "garbage":
        bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    else:
        bad.mkdir()
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--workspace", str(basic_workspace),
                                      "--checkpoint", str(bad)])
    assert result.exit_code in (1, 2) and "shutka serve: http" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(bad.name) in lines[0], result.output
    assert ("not a readable checkpoint" if make == "garbage" else "is a directory") in lines[0]


def test_complete_with_a_checkpoint_directory_says_which_file_it_needs(tmp_path: Path, basic_workspace: Path,
                                                                        tiny_checkpoint: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "last_phase1.safetensors").write_bytes(tiny_checkpoint.read_bytes())
    result = CliRunner().invoke(cli, ["complete", str(basic_workspace), "src/main.ts", "1", "1",
                                      "--checkpoint", str(folder)])
    assert result.exit_code == 1
    line = " ".join(result.output.split())
    assert f"{folder}: is a directory, not a checkpoint" in line and "not found" not in line
    assert "pass the checkpoint file itself" in line and str(folder / "last_phase1.safetensors") in line
