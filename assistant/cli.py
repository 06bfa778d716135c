"""The `assistant` command line: thin commands over the core (the one module that wires packages).

Examples:
    assistant index build                 # incremental build of ./corpus into var/index
    assistant index build --full --eval   # re-embed everything, refuse to publish below the recall floor
    assistant search "what is ridge regression" --k 3
    assistant ask "when should I use Lasso instead of Ridge?" --json
    assistant serve --port 8000
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assistant.clierrors import ErrorReportingGroup
from assistant.dates import parse_since
from assistant.errors import BadInputError
from assistant.settings import Settings, get_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _settings(**overrides: Any) -> Settings:
    base = get_settings()
    clean = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=clean) if clean else base


def _emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human(data))


@click.group(cls=ErrorReportingGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
def main(verbose: bool) -> None:
    """Study assistant for the Machine Learning Engineer Roadmap (2026)."""
    level = (
        logging.INFO
        if verbose
        else getattr(logging, get_settings().log_level.upper(), logging.WARNING)
    )
    logging.basicConfig(
        level=max(level, logging.INFO) if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Third-party chatter that says nothing to a user of this tool.
    logging.getLogger("bm25s").setLevel(logging.WARNING)


# ------------------------------------------------------------------------------ index
@main.group()
def index() -> None:
    """Build and inspect the search index."""


@index.command("build")
@click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder (default ./corpus).")
@click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Index folder (default var/index)."
)
@click.option("--full", is_flag=True, help="Re-embed every chunk instead of reusing vectors.")
@click.option(
    "--eval",
    "run_eval",
    is_flag=True,
    help="Score the question set; refuse to publish below the floor.",
)
@click.option(
    "--qa", type=click.Path(path_type=Path), help="Question set for --eval (file or folder)."
)
@click.option(
    "--min-recall", type=float, help="recall@5 floor for --eval (ASSISTANT_EVAL_MIN_RECALL)."
)
@click.option("--wait", is_flag=True, help="Wait for a running build instead of exiting.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
def index_build(
    corpus: Path | None,
    index_dir: Path | None,
    full: bool,
    run_eval: bool,
    qa: Path | None,
    min_recall: float | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Build a new index version from the corpus and publish it.

    Example: assistant index build --corpus corpus --index-dir var/index
    """
    from tqdm import tqdm

    from assistant.factory import make_embedder, make_ledger
    from indexing.build import BuildOptions, build_index
    from indexing.fetch import UrlFetcher

    s = _settings(corpus_dir=corpus, index_dir=index_dir)
    if not s.corpus_dir.is_dir():  # before the model loads: fail in a second, not ten
        raise BadInputError(f"corpus folder {s.corpus_dir} does not exist")
    embedder = make_embedder(s)
    fetcher = UrlFetcher(
        s.resolved_url_cache_dir,
        allow_private=s.allow_private_urls,
        allowed_networks=s.url_allowed_networks,
        timeout_s=s.url_timeout_s,
        max_bytes=s.url_max_bytes,
    )
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if as_json or (not sys.stderr.isatty() and stage != "embed"):
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(
                total=total, desc=stage, unit="chunk" if stage == "embed" else "file", leave=False
            )
        bar.update(done - bar.n)

    evaluate = None
    if run_eval:
        from assistant.evaluation import evaluate_version_dir, load_questions

        questions = load_questions(qa or s.corpus_dir / "eval")
        evaluate = lambda path: evaluate_version_dir(path, embedder, questions, s)  # noqa: E731
    options = BuildOptions(
        corpus=s.corpus_dir,
        index_dir=s.index_dir,
        full=full,
        index_type=s.index_type,
        hnsw_threshold=s.hnsw_threshold,
        keep_versions=s.keep_versions,
        max_file_bytes=s.max_file_bytes,
        lock_timeout_s=-1 if wait else 0,
    )
    try:
        report = build_index(
            options,
            embedder,
            fetcher=fetcher,
            chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap,
            evaluate=evaluate,
            min_recall=min_recall if min_recall is not None else s.eval_min_recall,
            progress=progress,
        )
    finally:
        fetcher.close()
    for bar in bars.values():
        bar.close()
    ledger = make_ledger(s)
    ledger.record_build(
        report.version,
        report.embed_tokens,
        report.embedded,
        report.reused,
        report.seconds.get("total", 0.0),
        embedder.model_name,
    )
    ledger.close()
    _emit(report.to_json(), as_json, _build_summary)


def _build_summary(r: dict[str, Any]) -> str:
    lines = [
        f"published index {r['version']}"
        if r["published"]
        else f"built {r['version']} (not published)",
        f"  sources: {r['files']} files, {r['urls']} URLs; chunks: {r['chunks']} "
        f"({r['embedded']} embedded, {r['reused']} reused); embedding tokens: {r['embed_tokens']}",
        "  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in r["seconds"].items()),
    ]
    if r.get("full_rebuild_reason") and r["embedded"]:
        lines.append(f"  full embed because: {r['full_rebuild_reason']}")
    if r.get("eval"):
        lines.append(
            "  eval: "
            + ", ".join(f"{k} {v:.3f}" for k, v in r["eval"].items() if isinstance(v, float))
        )
    if r["skipped"]:
        lines.append(f"  skipped {len(r['skipped'])}:")
        lines += [f"    - {s['source']}: {s['reason']}" for s in r["skipped"]]
    return "\n".join(lines)


@index.command("status")
@click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Index folder (default var/index)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def index_status(index_dir: Path | None, as_json: bool) -> None:
    """Show the published version, its model, counts and the versions on disk.

    Example: assistant index status --json
    """
    from assistant.index import MANIFEST, Manifest, list_versions, resolve_version_dir

    s = _settings(index_dir=index_dir)
    version, path = resolve_version_dir(s.index_dir)
    m = Manifest.read(path / MANIFEST)
    data = {
        "version": version,
        "path": str(path),
        "created_at": m.created_at,
        "model": m.model,
        "chunking": m.chunking,
        "index_type": m.index_type,
        "counts": m.counts,
        "embed_tokens": m.embed_tokens,
        "sources": len(m.sources),
        "versions": list_versions(s.index_dir),
    }
    _emit(data, as_json, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


# ------------------------------------------------------------------------------ ask / search
@main.command()
@click.argument("query")
@click.option("--k", default=5, show_default=True, help="Number of passages.")
@click.option(
    "--phase", "phases", type=int, multiple=True, help="Only these roadmap phases (repeatable)."
)
@click.option(
    "--source", "sources", multiple=True, help="Only these sources or folders (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def search(
    query: str, k: int, phases: tuple[int, ...], sources: tuple[str, ...], as_json: bool
) -> None:
    """Search the index (hybrid dense + BM25).

    Example: assistant search "bias variance trade-off" --k 3 --phase 5
    """
    from assistant.factory import make_assistant

    a = make_assistant(_settings(semantic_cache=False))
    hits, version = a.search(query, k, phases=list(phases) or None, sources=list(sources) or None)
    data = {"results": [h.to_json() for h in hits], "index_version": version}
    _emit(
        data,
        as_json,
        lambda d: (
            "\n\n".join(
                f"[{n}] {r['score']:.4f}  {r['source']} — {r['section']}\n    {r['text'][:200]}"
                for n, r in enumerate(d["results"], 1)
            )
            or "no results"
        ),
    )
    a.close()


@main.command()
@click.argument("question")
@click.option("--k", default=5, show_default=True, help="Passages to answer from.")
@click.option("--phase", "phases", type=int, multiple=True, help="Only these roadmap phases.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def ask(question: str, k: int, phases: tuple[int, ...], as_json: bool) -> None:
    """Answer a question with citations, in-process (same service as the API).

    Example: assistant ask "why use dropout?"
    """
    from assistant.factory import make_assistant
    from assistant.service import AskOptions

    a = make_assistant(get_settings())
    result = a.ask(question, AskOptions(k=k, phases=list(phases) or None, endpoint="cli"))
    a.close()
    _emit(
        result.to_json(),
        as_json,
        lambda d: "\n".join(
            [d["answer"], *([f"\n{d['roadmap']}"] if d.get("roadmap") else []), ""]
            + [
                f"[{c['id']}] {c['title']} — {c['section']} ({c['url'] or c['source']})"
                for c in d["citations"]
            ]
        ),
    )


# ------------------------------------------------------------------------------ serve
@main.command()
@click.option("--host", help="Bind address (ASSISTANT_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (ASSISTANT_PORT, default 8000).")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder.")
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes.")
def serve(host: str | None, port: int | None, index_dir: Path | None, workers: int) -> None:
    """Run the HTTP service (REST, OpenAI-compatible API, chat widget).

    Example: assistant serve --host 0.0.0.0 --port 8000
    """
    import uvicorn

    if index_dir is not None:
        os.environ["ASSISTANT_INDEX_DIR"] = str(index_dir)
        get_settings.cache_clear()
    s = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers,
        log_level=s.log_level.lower(),
        access_log=False,
    )


# ------------------------------------------------------------------------------ eval / costs
@main.command("eval")
@click.option("--qa", type=click.Path(path_type=Path), help="Question set (JSONL file or folder).")
@click.option("--k", default=5, show_default=True, help="Cut-off for recall@k.")
@click.option(
    "--answers/--no-answers", default=True, show_default=True, help="Also score /v1/ask answers."
)
@click.option(
    "--answerers",
    help="Compare answerers on held-out answers instead: e.g. extractive,base,finetuned.",
)
@click.option("--answer-set", type=click.Path(path_type=Path), help="Held-out answers (JSONL).")
@click.option("--base", "base_model", default="gemma-3-270m", show_default=True, help="Base model.")
@click.option("--adapter", type=click.Path(path_type=Path), help="Adapter of 'finetuned'.")
@click.option("--limit", type=int, help="About N questions, spread over the set (a quick look).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_cmd(
    qa: Path | None,
    k: int,
    answers: bool,
    answerers: str | None,
    answer_set: Path | None,
    base_model: str,
    adapter: Path | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Score retrieval (recall@k, MRR, nDCG@10) and answers (citation precision, faithfulness).

    Example: assistant eval --k 5 --json
    """
    if answerers:
        from assistant.answer_cli import compare_answerers

        compare_answerers(answerers, answer_set, base_model, adapter, limit, as_json)
        return
    from assistant.evaluation import evaluate_answers, evaluate_retrieval, load_questions
    from assistant.factory import make_assistant

    s = _settings(semantic_cache=False)
    a = make_assistant(s)
    questions = load_questions(qa or s.corpus_dir / "eval")
    data: dict[str, Any] = {"retrieval": evaluate_retrieval(a, questions, k=k)}
    if answers:
        data["answers"] = evaluate_answers(a, questions)
    a.close()
    _emit(data, as_json, _eval_summary)


def _eval_summary(d: dict[str, Any]) -> str:
    r = d["retrieval"]
    lines = [
        f"questions: {r['questions']}",
        "overall: " + ", ".join(f"{k} {v:.3f}" for k, v in r["overall"].items()),
    ]
    lines += [
        f"phase {p}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items())
        for p, m in r["by_phase"].items()
    ]
    if "answers" in d:
        lines.append(
            "answers: "
            + ", ".join(f"{k} {v:.3f}" for k, v in d["answers"].items() if isinstance(v, float))
        )
    return "\n".join(lines)


@main.command()
@click.option("--since", help="ISO date/time, or a number of days like 7d.")
@click.option("--by", type=click.Choice(["day", "model", "key"]), help="Group totals.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def costs(since: str | None, by: str | None, as_json: bool) -> None:
    """Report query costs, tokens, cache savings and latency from the ledger.

    Example: assistant costs --since 7d --by model
    """
    from assistant.factory import make_ledger

    ledger = make_ledger(get_settings())
    data = ledger.summary(since=parse_since(since), by=by)  # type: ignore[arg-type]
    ledger.close()
    _emit(data, as_json, lambda d: json.dumps(d, indent=2, default=str))


def _attach_finetune() -> None:
    from finetune.cli import finetune

    main.add_command(finetune)


_attach_finetune()
