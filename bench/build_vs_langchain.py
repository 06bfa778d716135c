"""Full build of a real Sphinx HTML tree: `assistant index build --full` vs the LangChain textbook.

The issue measured the scikit-learn user guide (~2,700 chunks); it is not available
offline, so this uses an equivalent real Sphinx HTML tree that is: Debian's
``python3.11-doc`` (``/usr/share/doc/python3.11/html``, `make system-deps`), the pages of
``library/*.html`` in name order until they make ``--target-chunks`` chunks (counted with
our chunker; the first pages that reach it). Both pipelines get the very same files, copied
into one temp folder, and each runs as a fresh process from the shell (imports and model
load included), ``--runs`` times alternately; the medians are compared:

- LangChain, in a scratch virtual environment outside the repository (created once under
  ``--venv``, default ``$TMPDIR/study-assistant-langchain-venv``): it sees this venv's
  packages (torch 2.13.0, sentence-transformers, faiss) through a ``.pth`` file and gets
  ``langchain-community``, ``langchain-huggingface``, ``langchain-text-splitters`` and
  ``beautifulsoup4`` from PyPI. Pipeline: ``BSHTMLLoader`` per file,
  ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``,
  ``HuggingFaceEmbeddings`` on the bundled all-MiniLM-L6-v2 folder (CPU),
  ``FAISS.from_documents``, ``save_local``.
- Ours: ``assistant index build --full --corpus DIR --index-dir DIR`` with the default
  settings (ONNX int8 embeddings; the one-time ONNX export is made before the timing, as it
  is on any machine after the first use).

Prints JSON: both wall times (and CPU times), chunk counts, the ratio ours / LangChain
(target <= 0.5) and the load average::

    .venv/bin/python bench/build_vs_langchain.py > bench/results/build_vs_langchain.json
    .venv/bin/python bench/build_vs_langchain.py --target-chunks 500 --runs 1   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, emit

DOCS = Path("/usr/share/doc/python3.11/html")
ASSISTANT = Path(sys.executable).parent / "assistant"
PACKAGES = [
    "langchain-community",
    "langchain-huggingface",
    "langchain-text-splitters",
    "beautifulsoup4",
]
TARGET_RATIO = 0.5
LANGCHAIN_SCRIPT = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from langchain_community.document_loaders import BSHTMLLoader
from langchain_community.vectorstores import FAISS
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
corpus, out, model = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
t_import = time.perf_counter()
docs = []
for f in sorted(corpus.rglob("*.html")):
    docs.extend(BSHTMLLoader(str(f), open_encoding="utf-8").load())
chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
t_split = time.perf_counter()
embeddings = HuggingFaceEmbeddings(model_name=model, model_kwargs={"device": "cpu"})
store = FAISS.from_documents(chunks, embeddings)
store.save_local(out)
t_end = time.perf_counter()
print(json.dumps({"documents": len(docs), "chunks": len(chunks),
    "seconds": {"import": round(t_import - t0, 2), "load_split": round(t_split - t_import, 2),
                "embed_index": round(t_end - t_split, 2), "total": round(t_end - t0, 2)}}))
"""


def pick_pages(target_chunks: int, dest: Path) -> dict[str, Any]:
    """Copy library/*.html (name order) into ``dest`` until our chunker makes the target."""
    from assistant.factory import make_embedder
    from assistant.settings import Settings
    from indexing.chunking import TokenChunker
    from indexing.loaders import load_file

    s = Settings()
    chunker = TokenChunker(make_embedder(s).tokenizer, s.chunk_size, s.chunk_overlap)
    pages, chunks, size = [], 0, 0
    for page in sorted((DOCS / "library").glob("*.html")):
        rel = page.relative_to(DOCS)
        n = len(chunker.chunk(load_file(page, rel.as_posix(), max_bytes=s.max_file_bytes)))
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, dest / rel)
        pages.append(rel.as_posix())
        chunks += n
        size += page.stat().st_size
        if chunks >= target_chunks:
            break
    return {"pages": len(pages), "first": pages[0], "last": pages[-1], "bytes": size,
            "our_chunks": chunks}  # fmt: skip


def langchain_python(venv: Path) -> Path:
    """The scratch venv's interpreter; created (and LangChain installed) on first use."""
    python = venv / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # torch, sentence-transformers and faiss come from this venv: no second torch download.
    (Path(site) / "study_assistant_venv.pth").write_text(ours + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return python


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the process tree, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--target-chunks", type=int, default=2700)
    parser.add_argument("--runs", type=int, default=1, help="runs of each pipeline")
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "study-assistant-langchain-venv",
        help="scratch venv for LangChain (outside the repository; reused)",
    )
    args = parser.parse_args(argv)
    if not DOCS.is_dir():
        sys.exit(f"{DOCS} is missing: run `make system-deps` (installs python3.11-doc)")
    from assistant.embeddings import resolve_model_path
    from assistant.factory import make_embedder
    from assistant.settings import Settings

    python = langchain_python(args.venv)
    model = resolve_model_path("all-MiniLM-L6-v2")
    make_embedder(Settings()).embed_documents(["export once"])  # the cached ONNX export
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="build-vs-langchain-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        picked = pick_pages(args.target_chunks, corpus)
        script = work / "langchain_pipeline.py"
        script.write_text(LANGCHAIN_SCRIPT)
        ours_env = {**env, "ASSISTANT_DATABASE_URL": f"sqlite:///{work / 'ledger.db'}"}
        lc: list[tuple[float, float]] = []
        us: list[tuple[float, float]] = []
        lc_report: dict[str, Any] = {}
        our_report: dict[str, Any] = {}
        for run in range(args.runs):
            wall, cpu, out = timed([str(python), str(script), str(corpus),
                                    str(work / f"lc-{run}"), model], env)  # fmt: skip
            lc.append((wall, cpu))
            lc_report = json.loads(out.strip().splitlines()[-1])
            print(f"langchain run {run}: {wall:.1f} s", file=sys.stderr)
            cmd = [str(ASSISTANT), "index", "build", "--full", "--json", "--corpus", str(corpus),
                   "--index-dir", str(work / f"ours-{run}")]  # fmt: skip
            wall, cpu, out = timed(cmd, ours_env)
            us.append((wall, cpu))
            our_report = json.loads(out)
            print(f"ours run {run}: {wall:.1f} s", file=sys.stderr)
    lc_wall = statistics.median(w for w, _ in lc)
    our_wall = statistics.median(w for w, _ in us)
    emit(
        {
            "corpus": {"source": str(DOCS / "library"), **picked},
            "langchain": {
                "wall_s": round(lc_wall, 2),
                "cpu_s": round(statistics.median(c for _, c in lc), 2),
                "chunks": lc_report.get("chunks"),
                "inside": lc_report.get("seconds"),
            },
            "ours": {
                "wall_s": round(our_wall, 2),
                "cpu_s": round(statistics.median(c for _, c in us), 2),
                "chunks": our_report.get("chunks"),
                "inside": our_report.get("seconds"),
                "backend": Settings().embedding_backend,
            },
            "ratio_ours_to_langchain": round(our_wall / lc_wall, 3),
            "target_ratio": TARGET_RATIO,
            "meets_target": our_wall / lc_wall <= TARGET_RATIO,
            "runs": args.runs,
            "machine": {"cpus": os.cpu_count(), "loadavg_1m_end": round(os.getloadavg()[0], 2)},
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
