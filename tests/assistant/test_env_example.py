""".env.example lists every setting with its default and a comment, and nothing else."""

from __future__ import annotations

import re

from assistant.settings import Settings
from tests.conftest import REPO

LINE = re.compile(r"^# (ASSISTANT_[A-Z0-9_]+)=(.*)$")


def shown_default(name: str) -> str:
    """A field's default as the example writes it: empty for none, lower-case booleans."""
    value = Settings.model_fields[name].get_default(call_default_factory=True)
    if value is None or value == []:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def example_entries() -> dict[str, tuple[str, str]]:
    """ASSISTANT_* name -> (value shown, the comment line above it)."""
    lines = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    entries = {}
    for above, line in zip(["", *lines], lines, strict=False):
        if m := LINE.match(line):
            entries[m.group(1)] = (m.group(2), above)
    return entries


def test_every_setting_is_in_the_example_with_its_default() -> None:
    entries = example_entries()
    missing = [
        f"# ASSISTANT_{name.upper()}={shown_default(name)}"
        for name in Settings.model_fields
        if f"ASSISTANT_{name.upper()}" not in entries
    ]
    assert not missing, "add to .env.example (with a comment line above each):\n" + "\n".join(
        missing
    )
    wrong = {
        env: (shown, shown_default(env.removeprefix("ASSISTANT_").lower()))
        for env, (shown, _) in entries.items()
        if env.removeprefix("ASSISTANT_").lower() in Settings.model_fields
        and shown != shown_default(env.removeprefix("ASSISTANT_").lower())
    }
    assert not wrong, f"defaults in .env.example differ from Settings (shown, real): {wrong}"


def test_the_example_names_no_setting_that_does_not_exist() -> None:
    fields = {f"ASSISTANT_{name.upper()}" for name in Settings.model_fields}
    stale = sorted(set(example_entries()) - fields)
    assert not stale, f"not settings (any more): {stale}"


def test_each_entry_has_a_one_line_comment() -> None:
    bare = [env for env, (_, above) in example_entries().items() if not above.startswith("# ")
            or LINE.match(above) or above.startswith("# ---")]  # fmt: skip
    assert not bare, f"give these a comment line: {bare}"
