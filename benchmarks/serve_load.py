"""Load test of `warble serve` on loopback: many concurrent clients against one server process.

    python benchmarks/serve_load.py --json                       # 32 clients for 60 s on a freshly trained cpu run
    python benchmarks/serve_load.py --model run/ --clients 8 --duration 20 --max-tokens 64 --json

Starts the server as a subprocess (`python -m warble.serve.app`, the same as `warble serve`) on a free loopback
port with an API key, waits for /health, then runs `--clients` asyncio workers, each with its own httpx connection,
sending /v1/completions back to back for `--duration` seconds: post-like prompts of varied lengths, some with
metadata conditions, sampled with random seeds and temperatures, max_tokens drawn from [max/2, max], and a share
(`--stream-fraction`) streamed as server-sent events. Requests in flight at the deadline are awaited and counted.

An error is any non-200 answer, a transport failure, or a stream that does not end in `data: [DONE]` with usage.
Prints ONE JSON object on stdout (progress on stderr): requests/s, latency percentiles (whole response), time to
first token of streams, generated tokens/s, errors, and the engine's own counters scraped from /metrics (mean
decode batch = generated tokens / decode steps). Without --model a small `cpu`-preset run is trained first
(`bench_model.build_run`, about a minute); --work DIR keeps and reuses it, otherwise it is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

PROMPTS = [
    "just landed in", "new phone who dis", "breaking:", "can't believe the game last night",
    "good morning everyone, coffee first and then", "hot take:", "the best pizza in town is",
    "rain again. third day in a row and", "who else is watching the finale tonight? no spoilers but",
    "my cat just", "thread: everything I learned building a startup in two years", "lol", "reminder that",
    "finally finished the marathon!", "traffic on the bridge is", "new album drops friday and",
    "unpopular opinion: pineapple on pizza is", "happy birthday to my", "shoutout to the team at",
    "the election debate tonight was", "weekend plans:", "@user thanks for the recommendation, the book was",
    "I have been waiting for this update since", "if you are in the city this weekend check out",
]
CONDITIONS = [None, None, {"lang": "en"}, {"lang": "en", "topic": "sports"}, {"reply": True, "engagement": 50}]


def log(msg: str) -> None:
    print(f"[serve_load] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of xs; 0 for none."""
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * len(s) + 0.5) - 1))]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    completion_tokens: int = 0
    prompt_tokens: int = 0
    requests: int = 0
    streamed: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


# ---------------------------------------------------------------------------------------------------- server
def start_server(run: Path, port: int, key: str, max_batch: int, max_tokens: int, log_file: Path,
                 threads: int | None) -> subprocess.Popen:
    env = {**os.environ, "WARBLE_API_KEYS": key}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "warble.serve.app", "--model", str(run), "--host", "127.0.0.1", "--port", str(port),
           "--max-batch", str(max_batch), "--max-tokens-limit", str(max(max_tokens, 16)), "--log-level", "warning"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log_file.open("w"))


def wait_ready(p: subprocess.Popen, base: str, log_file: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.poll() is not None:
            raise SystemExit(f"server exited with {p.returncode}:\n{log_file.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    p.kill()
    raise SystemExit(f"server not ready after {timeout:.0f} s:\n{log_file.read_text()[-3000:]}")


def engine_counters(base: str, key: str) -> dict[str, float]:
    """warble_engine_* samples from /metrics (no client library needed for flat gauges and counters)."""
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("warble_engine_") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            out[name[len("warble_engine_"):]] = float(value)
    return out


# ---------------------------------------------------------------------------------------------------- load
def request_body(rng: random.Random, max_tokens: int, stream: bool) -> dict:
    body = {"prompt": rng.choice(PROMPTS), "max_tokens": rng.randint(max(1, max_tokens // 2), max_tokens),
            "temperature": rng.choice([0.7, 0.8, 1.0]), "top_p": rng.choice([0.9, 1.0]), "seed": rng.randrange(2**31)}
    cond = rng.choice(CONDITIONS)
    if cond:
        body["conditions"] = cond
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return body


async def one_request(client: httpx.AsyncClient, body: dict, tally: Tally) -> None:
    t0 = time.perf_counter()
    try:
        if not body.get("stream"):
            r = await client.post("/v1/completions", json=body)
            if r.status_code != 200:
                tally.error(f"HTTP {r.status_code}: {r.text}")
                return
            usage = r.json()["usage"]
        else:
            usage, done, first = None, False, None
            async with client.stream("POST", "/v1/completions", json=body) as r:
                if r.status_code != 200:
                    tally.error(f"HTTP {r.status_code}: {(await r.aread()).decode(errors='replace')}")
                    return
                async for line in r.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line[len("data: "):]
                    if data == "[DONE]":
                        done = True
                        break
                    ev = json.loads(data)
                    if "error" in ev:
                        tally.error(f"stream error: {ev['error']}")
                        return
                    if first is None and ev.get("choices") and ev["choices"][0]["text"]:
                        first = time.perf_counter() - t0
                    if ev.get("usage"):
                        usage = ev["usage"]
            if not done or usage is None:
                tally.error("stream ended without usage and [DONE]")
                return
            tally.streamed += 1
            if first is not None:
                tally.ttfts.append(first)
    except (httpx.HTTPError, ValueError, KeyError) as e:
        tally.error(f"{type(e).__name__}: {e}")
        return
    tally.latencies.append(time.perf_counter() - t0)
    tally.requests += 1
    tally.completion_tokens += usage["completion_tokens"]
    tally.prompt_tokens += usage["prompt_tokens"]


async def run_load(base: str, key: str, clients: int, duration: float, max_tokens: int, stream_fraction: float,
                   seed: int) -> tuple[Tally, float]:
    tally = Tally()
    headers = {"Authorization": f"Bearer {key}"}
    timeout = httpx.Timeout(300.0, connect=30.0)

    async def worker(i: int, deadline: float) -> None:
        rng = random.Random(seed * 1000 + i)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as client:
            while time.perf_counter() < deadline:
                await one_request(client, request_body(rng, max_tokens, rng.random() < stream_fraction), tally)

    # warm up (first-call allocations, lazy imports) outside the timed window
    warm = Tally()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as client:
        await asyncio.gather(*(one_request(client, request_body(random.Random(i), max_tokens, i % 2 == 0), warm)
                               for i in range(4)))
    if warm.errors:
        raise SystemExit(f"warm-up requests failed: {warm.error_samples}")
    t0 = time.perf_counter()

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            log(f"{time.perf_counter() - t0:5.0f} s: {tally.requests} requests, {tally.errors} errors")

    ticker = asyncio.ensure_future(progress())
    try:
        await asyncio.gather(*(worker(i, t0 + duration) for i in range(clients)))
    finally:
        ticker.cancel()
    return tally, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="run directory to serve (default: train a small cpu-preset run first)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    ap.add_argument("--max-tokens", type=int, default=32, help="max_tokens per request is drawn from [max/2, max]")
    ap.add_argument("--stream-fraction", type=float, default=0.25, help="share of requests streamed (default 0.25)")
    ap.add_argument("--max-batch", type=int, default=32, help="the server's --max-batch (default 32)")
    ap.add_argument("--threads", type=int, help="the server's OMP_NUM_THREADS (default: torch's choice)")
    ap.add_argument("--work", help="directory for the trained run (kept and reused); default: a temporary one")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the result as one JSON object (else a summary)")
    a = ap.parse_args()
    if a.clients < 1 or a.duration <= 0 or a.max_tokens < 1 or not 0 <= a.stream_fraction <= 1:
        ap.error("--clients, --duration and --max-tokens must be positive, --stream-fraction in [0, 1]")

    tmp = None
    if a.model:
        run = Path(a.model)
    else:
        work = Path(a.work) if a.work else Path(tmp := tempfile.mkdtemp(prefix="warble-serve-load-"))
        run = work / "run"
        if (run / "model.safetensors").is_file():
            log(f"reusing the model in {run}")
        else:
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_model import build_run

            work.mkdir(parents=True, exist_ok=True)
            log(f"training a small cpu-preset model under {work} (about a minute)")
            run = build_run(work)
    model = json.loads((run / "model.json").read_text()) if (run / "model.json").is_file() else {}
    if model:
        from warble.model import ModelConfig

        model["params"] = ModelConfig(**model).num_params()
    port, key = free_port(), "bench-" + secrets.token_hex(8)
    base = f"http://127.0.0.1:{port}"
    server_log = Path(tempfile.mkstemp(prefix="warble-serve-load-", suffix=".log")[1])
    server = start_server(run, port, key, a.max_batch, a.max_tokens, server_log, a.threads)
    exit_code = None
    try:
        wait_ready(server, base, server_log)
        log(f"server up on {base}; {a.clients} clients for {a.duration:g} s, max_tokens <= {a.max_tokens}, "
            f"{a.stream_fraction:.0%} streamed")
        before = engine_counters(base, key)
        tally, elapsed = asyncio.run(run_load(base, key, a.clients, a.duration, a.max_tokens, a.stream_fraction,
                                              a.seed))
        after = engine_counters(base, key)
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    steps = after.get("steps_total", 0) - before.get("steps_total", 0)
    generated = after.get("generated_tokens_total", 0) - before.get("generated_tokens_total", 0)
    ms = [x * 1000 for x in tally.latencies]
    out = {
        "requests_per_s": round(tally.requests / elapsed, 3),
        "p50_ms": round(pct(ms, 0.50), 1),
        "p90_ms": round(pct(ms, 0.90), 1),
        "p99_ms": round(pct(ms, 0.99), 1),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else 0.0,
        "max_ms": round(max(ms), 1) if ms else 0.0,
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        "requests": tally.requests,
        "streamed_requests": tally.streamed,
        "clients": a.clients,
        "duration_s": a.duration,
        "elapsed_s": round(elapsed, 2),
        "tokens_per_s": round(tally.completion_tokens / elapsed, 1),
        "prompt_tokens_per_s": round(tally.prompt_tokens / elapsed, 1),
        "completion_tokens": tally.completion_tokens,
        "mean_completion_tokens": round(tally.completion_tokens / tally.requests, 1) if tally.requests else 0.0,
        "ttft_p50_ms": round(pct(tally.ttfts, 0.50) * 1000, 1),
        "ttft_p99_ms": round(pct(tally.ttfts, 0.99) * 1000, 1),
        "max_tokens": a.max_tokens,
        "stream_fraction": a.stream_fraction,
        "max_batch": a.max_batch,
        "engine_steps": int(steps),
        "engine_mean_batch": round(generated / steps, 2) if steps else 0.0,
        "server_exit_code": exit_code,
        "model": {"run": str(run) if a.model else "bench_model.build_run (cpu preset)",
                  "params": model.get("params"), "d_model": model.get("d_model"), "n_layers": model.get("n_layers"),
                  "vocab_size": model.get("vocab_size"), "context": model.get("max_seq_len")},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }
    if exit_code not in (0, None):
        log(f"the server exited with {exit_code}:\n{server_log.read_text()[-3000:]}")
    server_log.unlink(missing_ok=True)
    if a.json:
        print(json.dumps(out))
    else:
        print(f"{out['requests']} requests in {out['elapsed_s']} s: {out['requests_per_s']} req/s, p50 "
              f"{out['p50_ms']} ms, p99 {out['p99_ms']} ms, {out['tokens_per_s']} tokens/s, TTFT p50 "
              f"{out['ttft_p50_ms']} ms, {out['errors']} errors")
    return 0 if tally.errors == 0 and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
