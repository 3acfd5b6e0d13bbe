"""Load generator for the HTTP API, run in its own process: N concurrent clients × M requests each,
reporting requests/s and latency percentiles per concurrency level.

    # start `shutka serve` on WORKSPACE in a child process, measure, stop it:
    python -m assistant.api.loadtest --workspace tests/fixtures/... --checkpoint model.safetensors
    # or measure a server that is already running (prompts still come from --workspace if given):
    python -m assistant.api.loadtest --url http://127.0.0.1:8000 --clients 1,8,50 --requests 20

Prompts are cursors in the workspace's own TypeScript files (a seeded random line and column: the
code before it is the prompt, the code after it the suffix), sent to `POST /v1/completions` with the
file's path, so the engine does the work an editor would ask of it. Uses `httpx` (a runtime dependency).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import click

SOURCE_SUFFIXES = (".ts", ".tsx", ".mts", ".cts")
SKIP_DIRS = {"node_modules", ".git", ".shutka", "dist", "build"}
MAX_PROMPT_CHARS = 4000
"""Prompt and suffix are clipped to this many characters around the cursor (what an editor sends)."""
START_TIMEOUT_S = 300.0
"""A real model and a large workspace take a while to load; /health answers once they have."""
ADDRESS = re.compile(r"shutka serve: (http://\S+)/v1 ")
FALLBACK_PROMPTS = [
    ("export function add(a: number, b: number): number {\n  return ", "\n}\n"),
    ("import { readFile } from \"node:fs/promises\";\n\nexport async function load(path: string) {\n  const text = ",
     "\n  return JSON.parse(text);\n}\n"),
    ("export class Stack<T> {\n  private items: T[] = [];\n  push(item: T): void {\n    this.items.", "\n  }\n}\n"),
]


@dataclass(frozen=True)
class Level:
    """What one concurrency level measured."""

    clients: int
    requests: int
    ok: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    first_errors: tuple[str, ...] = ()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def cursors(workspace: Path | None, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` completion bodies at seeded random cursors in the workspace's files (or built-in ones)."""
    rng = random.Random(seed)
    files = []
    if workspace is not None:
        for root, dirs, names in os.walk(workspace):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            files += [Path(root, n) for n in names if n.endswith(SOURCE_SUFFIXES) and not n.endswith(".d.ts")]
    files.sort()
    bodies = []
    for _ in range(count):
        if files:
            path = rng.choice(files)
            text = path.read_text(encoding="utf-8", errors="replace")
            lines = text.split("\n")
            line = rng.randrange(len(lines))
            column = rng.randint(0, len(lines[line]))
            offset = sum(len(x) + 1 for x in lines[:line]) + column
            prefix, suffix = text[:offset][-MAX_PROMPT_CHARS:], text[offset:][:MAX_PROMPT_CHARS]
            rel = path.relative_to(workspace).as_posix() if workspace else None
        else:
            prefix, suffix = rng.choice(FALLBACK_PROMPTS)
            rel = None
        bodies.append({"model": "shutka-v2", "prompt": prefix, "suffix": suffix, "max_tokens": 64, "path": rel})
    return bodies


async def run_level(url: str, clients: int, requests: int, bodies: list[dict[str, Any]],
                    headers: dict[str, str]) -> Level:
    """`clients` concurrent clients, each with its own connection, each sending `requests` in a row."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []

    async def client(index: int) -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0) as http:
            for i in range(requests):
                body = bodies[(index * requests + i) % len(bodies)]
                t0 = time.perf_counter()
                try:
                    response = await http.post("/v1/completions", json=body)
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors.append(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    seconds = time.perf_counter() - started
    stats = [percentile(latencies, q) if latencies else 0.0 for q in (50, 95, 99)]
    return Level(clients, clients * requests, len(latencies), len(errors), round(seconds, 3),
                 round(len(latencies) / seconds, 2), *(round(s, 1) for s in stats),
                 round(max(latencies, default=0.0), 1), tuple(errors[:3]))


def wait_healthy(url: str, headers: dict[str, str], proc: subprocess.Popen[str] | None) -> dict[str, Any]:
    """Poll /health until the first index is done; fail if the server process dies first."""
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise click.ClickException(f"shutka serve exited with {proc.returncode} during start-up")
        try:
            response = httpx.get(f"{url}/health", headers=headers, timeout=5.0)
            if response.status_code == 200 and response.json().get("ready"):
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise click.ClickException(f"{url}/health did not report ready within {START_TIMEOUT_S:.0f} s")


def spawn_server(workspace: Path, checkpoint: Path | None) -> tuple[subprocess.Popen[str], str]:
    """`shutka serve --port 0` on `workspace` in a child process. -> (process, its URL)."""
    args = [sys.executable, "-m", "assistant", "serve", "--port", "0", "--workspace", str(workspace)]
    if checkpoint is not None:
        args += ["--checkpoint", str(checkpoint)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        click.echo(line.rstrip(), err=True)
        if m := ADDRESS.search(line):
            threading.Thread(target=_drain, args=(proc.stderr,), daemon=True).start()  # a full pipe would block it
            return proc, m.group(1)
    raise click.ClickException(f"shutka serve exited with {proc.wait()} before printing its address")


def _drain(stream: IO[str]) -> None:
    for line in stream:
        if "ERROR" in line or "Traceback" in line:
            click.echo(f"server: {line.rstrip()}", err=True)


@click.command()
@click.option("--url", help="A running server (default: start `shutka serve` on --workspace).")
@click.option("--workspace", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Workspace to serve (without --url) and to take prompts from.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model for the spawned server [default: $SHUTKA_CHECKPOINT].")
@click.option("--clients", default="1,8,50", show_default=True, help="Concurrency levels, comma-separated.")
@click.option("--requests", "per_client", type=click.IntRange(min=1), default=20, show_default=True,
              help="Requests per client at each level.")
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True,
              help="Unmeasured requests first (lazy initialisation, caches).")
@click.option("--api-key", envvar="SHUTKA_API_KEY", help="Bearer key of the server [env: SHUTKA_API_KEY].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results here.")
def main(url: str | None, workspace: Path | None, checkpoint: Path | None, clients: str, per_client: int,
         warmup: int, api_key: str | None, seed: int, json_out: Path | None) -> None:
    """Measure requests/s and latency of POST /v1/completions at several concurrency levels."""
    try:
        levels = [int(c) for c in clients.split(",") if c.strip()]
    except ValueError:
        raise click.BadParameter("comma-separated integers, e.g. 1,8,50", param_hint="--clients") from None
    if url is None and workspace is None:
        raise click.UsageError("pass --url of a running server, or --workspace to start one")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    proc = None
    if url is None:
        assert workspace is not None
        proc, url = spawn_server(workspace, checkpoint)
    try:
        health = wait_healthy(url, headers, proc)
        bodies = cursors(workspace, 256, seed)
        if warmup:
            asyncio.run(run_level(url, 1, warmup, bodies, headers))
        results = [asyncio.run(run_level(url, n, per_client, bodies, headers)) for n in levels]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    report = {"url": url, "workspace": str(workspace) if workspace else None, "checkpoint": health.get("checkpoint"),
              "bank_entries": health.get("bank_entries"), "files": health.get("files"),
              "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
              "levels": [asdict(r) for r in results]}
    click.echo(f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
               f"{'p99 ms':>8} {'max ms':>8}")
    for r in results:
        click.echo(f"{r.clients:>7} {r.requests:>8} {r.errors:>6} {r.rps:>8.1f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} "
                   f"{r.p99_ms:>8.1f} {r.max_ms:>8.1f}")
        for e in r.first_errors:
            click.echo(f"    error: {e}", err=True)
    click.echo(f"model {report['checkpoint']}, {report['files']} files, {report['bank_entries']} bank entries, "
               f"{report['cpus']} CPUs, load average {report['load_average']}")
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if any(r.errors for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
