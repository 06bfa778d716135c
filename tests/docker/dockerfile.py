"""A small Dockerfile reader: enough of the format to check what our Dockerfile declares.

Joins continuation lines, drops comments (parser directives included), and records each
instruction with its line and build stage, so a problem can say where it is.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_CONTINUATION = re.compile(r"\\\s*$")


@dataclass(frozen=True)
class Instruction:
    """One instruction: ``keyword`` upper-cased, ``value`` the rest on one line."""

    keyword: str
    value: str
    line: int  # 1-based line of the keyword
    stage: int  # index of the FROM it belongs to; -1 before the first FROM

    @property
    def where(self) -> str:
        return f"{self.keyword} (line {self.line})"


def parse_dockerfile(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    stage = -1
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        # Docker drops comment lines everywhere, also inside a continued instruction.
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if _CONTINUATION.search(raw):
            pending.append(_CONTINUATION.sub("", raw).strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, value = joined.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, value.strip(), start, stage))
    return instructions


def read_dockerfile(path: Path) -> list[Instruction]:
    return parse_dockerfile(path.read_text(encoding="utf-8"))


def exec_form(value: str) -> list[str] | None:
    """The argv of a JSON-array (exec form) CMD/ENTRYPOINT, or None for the shell form."""
    if not value.startswith("["):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return parsed
    return None


def env_pairs(value: str) -> dict[str, str]:
    """``ENV A=1 B="two words"`` (and the legacy ``ENV A 1``) as a mapping."""
    words = shlex.split(value)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words if "=" in word)


def split_flags(value: str) -> tuple[dict[str, str], str]:
    """Leading ``--flag=value`` options of FROM/COPY/HEALTHCHECK, and the remainder."""
    flags: dict[str, str] = {}
    rest = value
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, _, flag_value = flag[2:].partition("=")
        flags[name] = flag_value
        rest = rest.lstrip()
    return flags, rest


def stage_env(instructions: list[Instruction], stage: int) -> dict[str, str]:
    """ENV as the given stage sees it (its own ENV lines; stages here never inherit)."""
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.stage == stage and ins.keyword == "ENV":
            env.update(env_pairs(ins.value))
    return env


def stage_names(instructions: list[Instruction]) -> dict[str, int]:
    """``FROM image AS name`` names, lower-cased, to their stage index."""
    names: dict[str, int] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            words = split_flags(ins.value)[1].split()
            if len(words) == 3 and words[1].lower() == "as":
                names[words[2].lower()] = ins.stage
    return names
