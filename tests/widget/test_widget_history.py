"""Conversation history in Chromium: the chat survives a reload, the History list starts a
new conversation, resumes an old one and exports it as Markdown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.widget.helpers import ask, ask_requests, open_widget, q, wait_answer

pytestmark = pytest.mark.browser

RIDGE = "What does Lasso regression do to coefficients?"
SCALE = "Why should the features be scaled first?"
GENERATOR = "What is a Python generator?"


def stored_id(page, api: str) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate(f"localStorage.getItem('study-assistant.conversation:{api}')")  # type: ignore[no-any-return]


def test_reload_list_new_resume_and_export(tabs, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tab = tabs()
    page = tab.page
    page.goto(service.url + "/")  # the demo page: strict CSP with Trusted Types
    open_widget(page)
    ask(page, RIDGE)
    first = wait_answer(page, 1)
    answer = first.locator(".text").text_content()
    sources = first.locator(".cites").text_content()
    assert answer and sources
    conv = stored_id(page, service.url)
    assert conv and re.fullmatch(r"[0-9a-f]{32}", conv)

    # A reload keeps the conversation: its turns come back from the service.
    page.reload()
    open_widget(page)
    restored = wait_answer(page, 1)
    expect(q(page, ".msg.user .text")).to_have_text([RIDGE])
    expect(restored.locator(".text")).to_have_text(answer)
    expect(restored.locator(".cites")).to_have_text(sources)
    sent = ask_requests(page)
    ask(page, SCALE)  # and continues it
    wait_answer(page, 2)
    assert sent[0]["conversation_id"] == conv

    # The list: one conversation; "New conversation" starts another.
    q(page, ".history-toggle").click()
    expect(q(page, ".history-toggle")).to_have_attribute("aria-expanded", "true")
    expect(q(page, ".history-item")).to_have_count(1)
    expect(q(page, ".history-item .history-title")).to_have_text(RIDGE)
    expect(q(page, ".history-item .history-meta")).to_contain_text("2 questions")
    expect(q(page, "textarea")).to_be_hidden()  # the list takes the chat's place
    q(page, ".history-new").click()
    expect(q(page, ".msg")).to_have_count(0)
    assert stored_id(page, service.url) is None
    ask(page, GENERATOR)
    wait_answer(page, 1)
    assert "conversation_id" not in sent[1]
    newer = stored_id(page, service.url)
    assert newer and newer != conv

    # Both listed, last continued first; resume the old one.
    q(page, ".history-toggle").click()
    items = q(page, ".history-item")
    expect(items).to_have_count(2)
    expect(items.locator(".history-title")).to_have_text([GENERATOR, RIDGE])
    expect(items.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    items.nth(1).locator(".history-open").click()
    expect(q(page, ".msg.user .text")).to_have_text([RIDGE, SCALE])
    expect(q(page, ".msg.bot .meta")).to_have_count(2)
    assert stored_id(page, service.url) == conv
    ask(page, "And what does Ridge do instead?")
    wait_answer(page, 3)
    assert sent[2]["conversation_id"] == conv

    # Export downloads the Markdown of that conversation.
    q(page, ".history-toggle").click()
    expect(items.locator(".history-title")).to_have_text([RIDGE, GENERATOR])
    with page.expect_download() as download:
        items.nth(0).locator(".history-export").click()
    assert download.value.suggested_filename == f"conversation-{conv}.md"
    target = tmp_path / "export.md"
    download.value.save_as(target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith(f"# {RIDGE}\n")
    assert f"## Question 2\n\n> {SCALE}\n" in text and "## Question 3" in text
    assert text.count("### Answer") == 3 and "**Sources**" in text
    assert tab.errors == [] and page.evaluate("window.__csp") == []
