"""`assistant index build|status`: publish a new index version, show the published one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from assistant.cli.common import emit, on_terminal, settings_with, settle
from assistant.errors import BadInputError


@click.group()
def index() -> None:
    """Build and inspect the search index."""


@index.command("build")
@click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder (default ./corpus).")
@click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Index folder (default var/index)."
)
@click.option("--full", is_flag=True, help="Re-embed every chunk instead of reusing vectors.")
@click.option(
    "--index-type",
    type=click.Choice(["auto", "flat", "hnsw", "ivfpq"]),
    help="FAISS index type (ASSISTANT_INDEX_TYPE; auto: by size).",
)
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
    "--min-hit-rate",
    "--min-recall",
    "min_recall",
    type=float,
    help="hit_rate@5 floor for --eval (ASSISTANT_EVAL_MIN_RECALL).",
)
@click.option("--wait", is_flag=True, help="Wait for a running build instead of exiting.")
@click.option(
    "--refresh-urls",
    is_flag=True,
    help="Ask the network for every URL source now (default: a copy younger than "
    "ASSISTANT_URL_REFRESH_S is used as it is; a failure is retried after ASSISTANT_URL_RETRY_S).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where loading, chunking and embedding run: this process, or a Ray cluster.",
)
@click.option(
    "--ray-address",
    help="Ray head HOST:PORT or ray://HOST:PORT (default: RAY_ADDRESS, else a local Ray).",
)
@click.option("--ray-actors", type=int, help="Embedding actors (default: one per GPU, else CPU).")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
def index_build(
    corpus: Path | None,
    index_dir: Path | None,
    full: bool,
    index_type: str | None,
    run_eval: bool,
    qa: Path | None,
    min_recall: float | None,
    wait: bool,
    refresh_urls: bool,
    engine: str,
    ray_address: str | None,
    ray_actors: int | None,
    as_json: bool,
) -> None:
    """Build a new index version from the corpus and publish it.

    Example: assistant index build --corpus corpus --index-dir var/index
    On a Ray cluster: assistant index build --engine ray --ray-address HEAD:6379
    """
    s = settings_with(corpus_dir=corpus, index_dir=index_dir, index_type=index_type)
    if not s.corpus_dir.is_dir():  # before the model loads: fail in a second, not ten
        raise BadInputError(f"corpus folder {s.corpus_dir} does not exist")

    from assistant.cli.wiring import build_options, make_fetcher, record_build
    from assistant.factory import make_embedder
    from indexing import build_index

    if engine != "ray" and (ray_address or ray_actors):
        raise BadInputError("--ray-address and --ray-actors need --engine ray")
    # Connected before the model loads: a wrong address fails in seconds, not after it.
    runner = ray_engine(s, ray_address, ray_actors) if engine == "ray" else None
    embedder = make_embedder(s)
    settle()
    evaluate = None
    if run_eval:
        from assistant.evaluation import evaluate_version_dir, load_questions

        questions = load_questions(qa or s.corpus_dir / "eval")
        evaluate = lambda path: evaluate_version_dir(path, embedder, questions, s)  # noqa: E731
    fetcher = make_fetcher(s, refresh=refresh_urls)
    bars = ProgressBars(enabled=on_terminal() and not as_json)
    try:
        report = build_index(
            build_options(s, full=full, wait=wait),
            embedder,
            fetcher=fetcher,
            chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap,
            evaluate=evaluate,
            min_recall=min_recall if min_recall is not None else s.eval_min_recall,
            progress=bars.update,
            engine=runner,
        )
    finally:
        fetcher.close()
        bars.close()
        if runner is not None:
            runner.close()
    if not report.unchanged:  # nothing was built: no build row in the ledger
        record_build(s, report, embedder.model_name)
    emit(report.to_json(), as_json, build_summary)


def ray_engine(s: Any, address: str | None, actors: int | None) -> Any:
    """The Ray engine; its actors build their embedder from the same settings."""
    from functools import partial

    from assistant.factory import make_embedder
    from indexing.ray_engine import RayEngine

    return RayEngine(partial(make_embedder, s), address=address, actors=actors)


class ProgressBars:
    """One tqdm bar per build stage, on a terminal only (a pipe or a log gets none)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        bar = self.bars.get(stage)
        if bar is None:
            from tqdm import tqdm

            unit = "chunk" if stage == "embed" else "file"
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit=unit, leave=False)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def build_summary(r: dict[str, Any]) -> str:
    if r.get("unchanged"):
        return "\n".join(
            [
                f"index unchanged: {r['version']} keeps serving ({r['chunks']} chunks from "
                f"{r['files']} files and {r['urls']} URLs are the published ones; nothing "
                "written)",
                *skipped_lines(r["skipped"]),
            ]
        )
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
    lines += skipped_lines(r["skipped"])
    return "\n".join(lines)


def skipped_lines(skipped: list[dict[str, str]]) -> list[str]:
    """URL sources that could not be fetched as one line (offline: the corpus's ~30 pages);
    any other skipped source (a bad file, a refused URL) on a line of its own."""
    from indexing.build import FETCH_FAILED

    unfetched = [s for s in skipped if s["reason"].startswith(FETCH_FAILED)]
    others = [s for s in skipped if s not in unfetched]
    lines = []
    if unfetched:
        example = unfetched[0]["reason"].removeprefix(FETCH_FAILED).lstrip(": ")
        lines.append(
            f"  {len(unfetched)} URL source(s) not fetched (e.g. {example}): run "
            "`assistant index build --refresh-urls` with network access to fetch them (then "
            "cached for offline builds); `assistant index status` lists them"
        )
    if others:
        lines.append(f"  skipped {len(others)}:")
        lines += [f"    - {s['source']}: {s['reason']}" for s in others]
    return lines


@index.command("watch")
@click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder (default ./corpus).")
@click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Index folder (default var/index)."
)
@click.option("--debounce-ms", default=300, show_default=True, help="Group events this long.")
def index_watch(corpus: Path | None, index_dir: Path | None, debounce_ms: int) -> None:
    """Rebuild and publish the index whenever a corpus file is saved (model kept warm).

    Example: assistant index watch --corpus corpus --index-dir var/index
    """
    import time

    from assistant.cli.wiring import build_options, make_fetcher
    from assistant.errors import AssistantError
    from assistant.factory import make_embedder
    from indexing import BuildReport, build_index
    from indexing.watch import watch_corpus

    s = settings_with(corpus_dir=corpus, index_dir=index_dir)
    if not s.corpus_dir.is_dir():
        raise BadInputError(f"corpus folder {s.corpus_dir} does not exist")
    embedder = make_embedder(s)
    embedder.embed_documents(["warm up"])  # load (or export) the model before the first save
    fetcher = make_fetcher(s)
    options = build_options(s, full=False, wait=True)
    started = [time.perf_counter()]

    def build() -> BuildReport:
        started[0] = time.perf_counter()
        return build_index(
            options,
            embedder,
            fetcher=fetcher,
            chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap,
        )

    def on_result(result: BuildReport | AssistantError, changed: list[str]) -> None:
        took = time.perf_counter() - started[0]
        if isinstance(result, AssistantError):
            click.echo(f"build failed ({took:.2f} s), previous version serving: {result}", err=True)
        elif result.unchanged:
            click.echo(f"unchanged in {took:.2f} s: {result.version} keeps serving")
        else:
            click.echo(
                f"published {result.version} in {took:.2f} s: {result.chunks} chunks "
                f"({result.embedded} embedded)"
                + (f" after {len(changed)} change(s)" if changed else "")
                + (f"; {len(result.skipped)} source(s) skipped" if result.skipped else ""),
            )

    click.echo(f"watching {s.corpus_dir} (Ctrl+C to stop)", err=True)
    try:
        watch_corpus(s.corpus_dir, build, on_result, ignore=[s.index_dir], debounce_ms=debounce_ms)
    finally:
        fetcher.close()


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

    s = settings_with(index_dir=index_dir)
    version, path = resolve_version_dir(s.index_dir)
    m = Manifest.read(path / MANIFEST)
    data = {
        "version": version,
        "path": str(path),
        "created_at": m.created_at,
        "model": m.model,
        "chunking": m.chunking,
        "index_type": m.index_type,
        "index_params": m.index_params,
        "counts": m.counts,
        "embed_tokens": m.embed_tokens,
        "sources": len(m.sources),
        "versions": list_versions(s.index_dir),
        "skipped": m.stats.get("skipped", []),
    }
    emit(data, as_json, status_text)


def status_text(d: dict[str, Any]) -> str:
    """``key: value`` lines; the skipped sources of the build one per line, with the reason."""
    lines = [f"{k}: {v}" for k, v in d.items() if k != "skipped"]
    lines.append(f"skipped: {len(d['skipped'])}")
    lines += [f"  - {s['source']}: {s['reason']}" for s in d["skipped"]]
    return "\n".join(lines)
