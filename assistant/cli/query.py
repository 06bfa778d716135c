"""`assistant search` and `assistant ask`: in-process, or through a running `assistant serve`.

A local call loads only what it needs (the ONNX embedder, the index; `search` no cache,
ledger or generator), so it answers in about a second; a server keeps even that loaded. With
``ASSISTANT_SERVER_URL`` set, both commands ask that server first and load the model
locally only when it does not answer (see ``assistant.cli.remote``).
"""

from __future__ import annotations

from typing import Any

import click

from assistant.cli.common import emit, settings_with, settle
from assistant.cli.remote import RemoteAssistant


@click.command()
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
    phase_list, source_list = list(phases) or None, list(sources) or None
    s = settings_with(semantic_cache=False)
    data = RemoteAssistant.from_settings(s).search(query, k, phase_list, source_list)
    if data is None:
        # The service's own searcher, without the rest of the service (cache, ledger,
        # generator): a one-shot process pays only for the embedder and the index.
        from assistant.factory import make_embedder, make_retriever
        from assistant.searcher import IndexSearcher

        searcher = IndexSearcher(
            make_embedder(s),
            make_retriever(s),
            index_dir=s.index_dir,
            top_k=s.top_k,
            max_query_chars=s.max_question_chars,
        )
        searcher.reload()
        settle()
        hits, version = searcher.search(query, k, phases=phase_list, sources=source_list)
        data = {"results": [h.to_json() for h in hits], "index_version": version}
    emit(data, as_json, search_summary)


def search_summary(d: dict[str, Any]) -> str:
    return (
        "\n\n".join(
            f"[{n}] {r['score']:.4f}  {r['source']} — {r['section']}\n    {r['text'][:200]}"
            for n, r in enumerate(d["results"], 1)
        )
        or "no results"
    )


@click.command()
@click.argument("question")
@click.option("--k", default=5, show_default=True, help="Passages to answer from.")
@click.option("--phase", "phases", type=int, multiple=True, help="Only these roadmap phases.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def ask(question: str, k: int, phases: tuple[int, ...], as_json: bool) -> None:
    """Answer a question with citations, in-process (same service as the API).

    Example: assistant ask "why use dropout?"
    """
    s = settings_with()
    phase_list = list(phases) or None
    data = RemoteAssistant.from_settings(s).ask(question, k, phase_list)
    if data is None:
        from assistant.factory import make_assistant
        from assistant.service import AskOptions

        a = make_assistant(s, warm=False)  # one question: load only what it needs
        settle()
        try:
            data = a.ask(question, AskOptions(k=k, phases=phase_list, endpoint="cli")).to_json()
        finally:
            a.close()
    emit(data, as_json, answer_summary)


def answer_summary(d: dict[str, Any]) -> str:
    return "\n".join(
        [d["answer"], *([f"\n{d['roadmap']}"] if d.get("roadmap") else []), ""]
        + [
            f"[{c['id']}] {c['title']} — {c['section']} ({c['url'] or c['source']})"
            for c in d["citations"]
        ]
    )
