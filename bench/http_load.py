"""HTTP load on a real `assistant serve`: cached answers, uncached extractive answers, search.

The service runs as a subprocess on a free loopback port (default extractive backend,
in-process cache, SQLite ledger) over the index given with --index-dir, or one built
from corpus/ into a temp dir. Load comes from this process: ``wrk`` (Debian package; a
generated Lua script makes every uncached question unique) or, without wrk, an asyncio
httpx client. Uncached questions and search queries get a numbered suffix, so each is
new to every cache (and embedded); a warm-up asks the --questions base questions once,
so the extractive answerer's per-passage sentence vectors are measured warm. Each
scenario runs at every concurrency for --duration seconds; the ledger then tells how
each request was served (hit or miss), so a "cached" run that missed cannot pass
unnoticed. Prints JSON: requests/s and p50/p90/p99 (ms) per run, and the targets
(latency at concurrency 1, throughput at the best concurrency)::

    .venv/bin/python bench/http_load.py                                # temp index, 8 s runs
    .venv/bin/python bench/http_load.py --index-dir /tmp/idx --duration 5 --concurrency 1,8,32
    .venv/bin/python bench/http_load.py --client httpx --scenarios search
    .venv/bin/python bench/http_load.py --profile /tmp/prof   # py-spy stacks of the server
    .venv/bin/python bench/http_load.py --workers 2 --redis-url redis://127.0.0.1:6379/9
    .venv/bin/python bench/http_load.py --scenarios health,cached_ask --concurrency 32 \
        --duration 4 --rounds 5      # ratio: the median of five side-by-side pairs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
CACHED_QUESTION = "When should I use Lasso instead of Ridge?"
TARGETS = [  # (scenario, metric, comparison, bound)
    ("cached_ask", "p50_ms", "<=", 5.0),
    ("cached_ask", "rps", ">=", 1000.0),
    ("uncached_ask", "p50_ms", "<=", 60.0),
    ("search", "p50_ms", "<=", 20.0),
]
LUA = r"""
local questions = { %(questions)s }
local path, field, unique, offset = "%(path)s", "%(field)s", %(unique)s, %(offset)d
local headers = { ["Content-Type"] = "application/json" }
local counter, next_tid = 0, 0
function setup(thread) thread:set("tid", next_tid); next_tid = next_tid + 1 end
function request()
  counter = counter + 1
  local i = counter * 64 + tid  -- unique across wrk threads
  local q = questions[(i %% #questions) + 1]
  if unique then q = q .. " (variant " .. (offset + i) .. ")" end
  return wrk.format("POST", path, headers, '{"' .. field .. '": "' .. q .. '"}')
end
"""
LUA_GET = r"""
function request() return wrk.format("GET", "%(path)s") end
"""
LUA_DONE = r"""
function done(s, latency, requests)
  local e = s.errors
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "errors": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d}\n', s.requests, s.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


def questions() -> list[str]:
    out = []
    for path in sorted((REPO / "corpus" / "eval").glob("*.jsonl")):
        out += [json.loads(line)["question"] for line in path.read_text().splitlines() if line]
    return out


def build_index(index_dir: Path) -> None:
    """Build corpus/ without URL sources (the bench runs offline)."""
    from assistant.factory import make_embedder
    from assistant.settings import Settings
    from indexing.build import BuildOptions, build_index

    build_index(
        BuildOptions(corpus=REPO / "corpus", index_dir=index_dir), make_embedder(Settings())
    )


def start_server(index_dir: Path, work: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    from assistant.index import MANIFEST, Manifest, resolve_version_dir

    _, version_dir = resolve_version_dir(index_dir)
    manifest = Manifest.read(version_dir / MANIFEST)
    model = manifest.model["name"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_INDEX_DIR": str(index_dir),
        "ASSISTANT_CORPUS_DIR": str(REPO / "corpus"),
        "ASSISTANT_EMBEDDING_MODEL": model,  # the model the index was built with
        "ASSISTANT_EMBEDDING_BACKEND": manifest.embedding_backend,  # and its runtime
        "ASSISTANT_DATABASE_URL": f"sqlite:///{work / 'ledger.db'}",
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0",
        "ASSISTANT_RELOAD_INTERVAL_S": "0",
        "ASSISTANT_LOG_LEVEL": "WARNING",
        **({"ASSISTANT_REDIS_URL": args.redis_url} if args.redis_url else {}),
    }
    command = [str(Path(sys.executable).parent / "assistant"), "serve", "--port", str(args.port)]
    command += ["--workers", str(args.workers)]
    if args.server_cpus:
        command = ["taskset", "-c", args.server_cpus, *command]
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{args.base}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"server did not start:\n{(work / 'server.log').read_text()[-3000:]}")
        time.sleep(0.2)


def run_wrk(
    args: argparse.Namespace, work: Path, spec: dict[str, Any], conns: int
) -> dict[str, Any]:
    escaped = ", ".join("[==[" + json.dumps(q)[1:-1] + "]==]" for q in spec["questions"])
    script = work / f"{spec['name']}.lua"
    if spec.get("method") == "GET":
        text = (LUA_GET + LUA_DONE) % {"path": spec["path"]}
    else:
        fields = {**spec, "questions": escaped, "unique": str(spec["unique"]).lower()}
        text = (LUA + LUA_DONE) % fields
    script.write_text(text)
    threads = min(conns, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{round(args.duration)}s", "--timeout", "30s",
         "-s", str(script), args.base],
        capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode != 0:
        sys.exit(f"wrk failed: {out.stdout}{out.stderr}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line[8:])
    return {
        "requests": raw["requests"],
        "errors": raw["errors"],
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        **{f"p{p}_ms": round(raw[f"p{p}_us"] / 1000, 2) for p in (50, 90, 99)},
    }


async def _httpx_load(args: argparse.Namespace, spec: dict[str, Any], conns: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + args.duration
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=args.base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                i = next(counter)
                q = spec["questions"][i % len(spec["questions"])] if spec["questions"] else ""
                if spec["unique"]:
                    q = f"{q} (variant {spec['offset'] + i})"
                t0 = time.perf_counter()
                if spec.get("method") == "GET":
                    r = await client.get(spec["path"])
                else:
                    r = await client.post(spec["path"], json={spec["field"]: q})
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conns)))
        elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(p: int) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000, 2)

    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99)}  # fmt: skip


def served_as(work: Path, since: float, endpoint: str) -> dict[str, int]:
    """How the ledger says requests since ``since`` (epoch s) were served: hit / miss counts."""
    time.sleep(1.0)  # the ledger writes in the background
    with sqlite3.connect(work / "ledger.db") as db:
        rows = db.execute(
            "select cache, count(*) from query_costs where endpoint = ? and ts >= ? group by cache",
            (endpoint, datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")),
        ).fetchall()
    return dict(Counter({cache: n for cache, n in rows}))


def profile(args: argparse.Namespace, pid: int, name: str) -> subprocess.Popen[bytes] | None:
    if not args.profile:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = args.profile / f"{name}.txt"
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
         "--duration", str(int(args.duration)), "--rate", "200", "--subprocesses", "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, help="A built index (default: build corpus/).")
    parser.add_argument("--duration", type=float, default=8.0, help="Seconds per run.")
    parser.add_argument("--concurrency", default="1,8,32", help="Client counts, comma-separated.")
    parser.add_argument("--scenarios", default="health,cached_ask,uncached_ask,search")
    parser.add_argument(
        "--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
    parser.add_argument(
        "--rounds", type=int, default=1, help="Run the scenarios this many times, in turn."
    )
    parser.add_argument(
        "--redis-url", help="Cache in this Redis (flushed first), not in each process."
    )
    parser.add_argument("--server-cpus", help="Pin the server with taskset, e.g. 0,1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--questions", type=int, default=60, help="Distinct base questions of uncached_ask."
    )
    parser.add_argument(
        "--profile", type=Path, help="Folder for py-spy stacks (highest concurrency)."
    )
    args = parser.parse_args()
    if not args.port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            args.port = sock.getsockname()[1]
    args.base = f"http://127.0.0.1:{args.port}"
    levels = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="http-load-"))
    index_dir = args.index_dir or work / "index"
    if args.index_dir is None:
        build_index(index_dir)
    qs = questions()
    specs: dict[str, dict[str, Any]] = {
        "cached_ask": {"path": "/v1/ask", "field": "question", "questions": [CACHED_QUESTION], "unique": False},
        "uncached_ask": {"path": "/v1/ask", "field": "question", "questions": qs[: args.questions], "unique": True},
        "search": {"path": "/v1/search", "field": "query", "questions": qs, "unique": True},
        "health": {"path": "/health", "method": "GET", "questions": [], "unique": False},
    }  # fmt: skip
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()  # every run starts with no answers
    server = start_server(index_dir, work, args)
    report: dict[str, Any] = {"client": args.client, "duration_s": args.duration, "cpus": os.cpu_count(),
                              "load_avg_before": os.getloadavg(), "workers": args.workers, "cache": "redis" if args.redis_url else "in-process", "runs": []}  # fmt: skip
    try:
        with httpx.Client(base_url=args.base, timeout=120) as c:
            report["index"] = c.get("/v1/index").json()["counts"]
            c.post("/v1/ask", json={"question": CACHED_QUESTION})  # the cached answer
            t0 = time.perf_counter()
            warm = specs["uncached_ask"]["questions"] if "uncached_ask" in args.scenarios else []
            for q in warm:  # warm-up: the sentences of their passages get embedded once
                c.post("/v1/ask", json={"question": q})
            if warm:
                report["warmup_s_per_question"] = round((time.perf_counter() - t0) / len(warm), 4)
        offset = 0
        order = [(r, name) for r in range(args.rounds) for name in args.scenarios.split(",")]
        for round_, name in order:
            for conns in levels:
                offset += 10_000_000
                spec = {**specs[name], "name": name, "offset": offset}
                spy = (
                    profile(args, server.pid, f"{name}-c{conns}")
                    if conns == max(levels) and round_ == 0
                    else None
                )
                since = time.time()
                if args.client == "wrk":
                    run = run_wrk(args, work, spec, conns)
                else:
                    run = asyncio.run(_httpx_load(args, spec, conns))
                if spy is not None:
                    spy.wait(timeout=60)
                if spec["path"] == "/v1/ask":
                    run["served_as"] = served_as(work, since, "ask")
                report["runs"].append(
                    {"scenario": name, "concurrency": conns, "round": round_, **run}
                )
                print(json.dumps(report["runs"][-1]), file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report["targets"] = targets(report["runs"])
    report["cached_ask_to_health"] = ratios(report["runs"])
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Cached /v1/ask throughput over /health's, per concurrency measured for both.

    With several rounds (health and cached_ask taking turns), each round gives a ratio of
    two runs seconds apart, and the median of those is the figure: the machine's load
    drifts over a minute more than the two routes differ.
    """
    out: dict[str, Any] = {}
    for conns in sorted({r["concurrency"] for r in runs}):
        pairs = []
        for round_ in sorted({r.get("round", 0) for r in runs}):
            rps = {
                r["scenario"]: r["rps"]
                for r in runs
                if r["concurrency"] == conns and r.get("round", 0) == round_
            }
            if rps.get("health") and "cached_ask" in rps:
                pairs.append((rps["cached_ask"], rps["health"]))
        if pairs:
            each = sorted(round(a / h, 3) for a, h in pairs)
            out[f"c{conns}"] = {
                "cached_ask_rps": [a for a, _ in pairs],
                "health_rps": [h for _, h in pairs],
                "ratios": each,
                "ratio": each[len(each) // 2]
                if len(each) % 2
                else round((each[len(each) // 2 - 1] + each[len(each) // 2]) / 2, 3),
                "target": ">= 0.8, and /health >= 2000 req/s",
            }
    return out


def targets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for scenario, metric, op, bound in TARGETS:
        mine = [r for r in runs if r["scenario"] == scenario]
        if not mine:
            continue
        # Latency as one client sees it (concurrency 1); throughput at the best concurrency.
        value = (
            max(r["rps"] for r in mine)
            if metric == "rps"
            else min(mine, key=lambda r: r["concurrency"])[metric]
        )
        met = value <= bound if op == "<=" else value >= bound
        out.append({"target": f"{scenario} {metric} {op} {bound}", "value": value, "met": met})
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
