"""`POST /v1/search` over HTTP on ~5,000 chunks, torch vs ONNX query embedding, side by side.

One synthetic corpus (``bench/common.py``) is indexed twice by the real ``build_index``
with pooled document vectors (``search_latency.PooledEmbedder``: real-model vectors of
the real paragraphs, seconds instead of an hour of embedding), once tagged with each
backend. For each backend a real ``uvicorn`` server (``api.app:create_app``, default
settings, rate limit off) is started on loopback with ``ASSISTANT_EMBEDDING_BACKEND``,
and the same unique queries (a numbered suffix defeats every cache) are sent one at a
time on one keep-alive connection. Prints JSON with p50/p90/p99 per backend, the
in-process ``embed_query`` p50 of each, and the ratios::

    .venv/bin/python bench/search_http.py                      # 5,000 chunks, 200 queries
    .venv/bin/python bench/search_http.py --chunks 1000 --queries 50
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import REPO, emit, machine, percentile, write_synthetic_corpus
from search_latency import PooledEmbedder

from assistant.evaluation import load_questions
from assistant.factory import make_embedder
from assistant.settings import Settings
from indexing.build import BuildOptions, build_index

P50_TARGET_MS = 10.0
BACKENDS = ("torch", "onnx-int8")


class Tagged:
    """The pooled document embedder, recorded in the manifest as ``backend``."""

    def __init__(self, inner: PooledEmbedder, backend: str) -> None:
        self.inner, self.backend = inner, backend
        self.model_name, self.dimension = inner.model_name, inner.dimension
        self.max_seq_length, self.tokenizer = inner.max_seq_length, inner.tokenizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _ms(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {f"p{q}": round(percentile(ms, q), 2) for q in (50, 90, 99)} | {"n": len(ms)}


def _serve(index_dir: Path, backend: str, work: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ASSISTANT_INDEX_DIR": str(index_dir),
        "ASSISTANT_EMBEDDING_BACKEND": backend,
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0",
        "ASSISTANT_DATABASE_URL": f"sqlite:///{work / f'ledger-{backend}.db'}",
        "ASSISTANT_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the {backend} server did not become ready")


def run(chunks: int, n_queries: int, work: Path) -> dict[str, Any]:
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    torch_embedder = make_embedder(Settings(embedding_backend="torch"))
    corpus = work / "corpus"
    write_synthetic_corpus(corpus, chunks, torch_embedder.tokenizer, seed=0)
    pooled = PooledEmbedder(torch_embedder, 0)
    base = [q.question for q in load_questions(REPO / "corpus" / "eval")]
    queries = [f"{base[i % len(base)]} ({i})" for i in range(n_queries)]
    out: dict[str, Any] = {"machine": machine(), "queries": n_queries, "backends": {}}
    for i, backend in enumerate(BACKENDS):
        index_dir = work / f"index-{backend}"
        report = build_index(
            BuildOptions(corpus=corpus, index_dir=index_dir), Tagged(pooled, backend)
        )
        out["chunks"] = report.chunks
        embedder = make_embedder(Settings(embedding_backend=backend))  # type: ignore[arg-type]
        embedder.embed_query("warm up")
        t_embed = []
        for q in queries[:100]:
            t = time.perf_counter()
            embedder.embed_query(q + " in-process")
            t_embed.append(time.perf_counter() - t)
        port = 18700 + i
        proc = _serve(index_dir, backend, work, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                for q in base[:10]:  # warm-up
                    client.post("/v1/search", json={"query": q + " warm", "k": 5})
                samples = []
                for q in queries:
                    t = time.perf_counter()
                    r = client.post("/v1/search", json={"query": q, "k": 5})
                    samples.append(time.perf_counter() - t)
                    r.raise_for_status()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        out["backends"][backend] = {
            "http_search_ms": _ms(samples),
            "embed_query_ms_in_process": _ms(t_embed),
        }
    b = out["backends"]
    t, o = b["torch"], b["onnx-int8"]
    out["ratio_onnx_int8_to_torch_p50"] = round(
        o["http_search_ms"]["p50"] / t["http_search_ms"]["p50"], 3
    )
    out["embed_query_ratio_p50"] = round(
        o["embed_query_ms_in_process"]["p50"] / t["embed_query_ms_in_process"]["p50"], 3
    )
    out["target_p50_ms"] = P50_TARGET_MS
    out["meets_target"] = {k: v["http_search_ms"]["p50"] <= P50_TARGET_MS for k, v in b.items()}
    out["load_note"] = f"loadavg_1m at end {round(os.getloadavg()[0], 2)}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="search-http-") as tmp:
        emit(run(args.chunks, args.queries, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
