"""A stored conversation as a Markdown document: its questions, answers and numbered sources."""

from __future__ import annotations

from typing import Any


def _source_line(c: dict[str, Any]) -> str:
    head = " — ".join(str(p) for p in (c.get("title"), c.get("section")) if p)
    parts = [head or str(c.get("source") or "")]
    if head and c.get("source"):
        parts.append(f"`{c['source']}`")
    if c.get("url"):
        parts.append(f"<{c['url']}>")
    return f"- **[{c.get('id', '?')}]** " + " · ".join(parts)


def conversation_markdown(conv: dict[str, Any]) -> str:
    """``conv`` as ``SqlConversationLog.read`` returns it, as Markdown (UTF-8 text).

    Answers keep their [n] markers; each answer's sources follow it, numbered as its
    markers are, so every [n] can be looked up.
    """
    questions = sum(1 for t in conv["turns"] if t["role"] == "user")
    started = str(conv["created_at"])[:16].replace("T", " ")
    lines = [
        f"# {conv['title']}",
        "",
        f"*Study assistant conversation `{conv['id']}`, started {started}"
        f" UTC, {questions} question{'s' if questions != 1 else ''}.*",
    ]
    n = 0
    for turn in conv["turns"]:
        if turn["role"] == "user":
            n += 1
            quoted = [f"> {line}".rstrip() for line in turn["content"].splitlines() or [""]]
            lines += ["", f"## Question {n}", "", *quoted]
            continue
        lines += ["", "### Answer", "", turn["content"].strip()]
        citations = turn.get("citations") or []
        if citations:
            lines += ["", "**Sources**", "", *(_source_line(c) for c in citations)]
    return "\n".join(lines) + "\n"
