"""The chat widget in headless Chromium: streaming, citations, conversations, keyboard, looks.

Every test drives the real service (uvicorn on loopback, the real corpus index) through
the demo page at ``/``; answers come from the extractive backend or, where a test needs
exact model text or timing, from the fake OpenAI-protocol model server.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fakes.openai_server import Reply
from tests.widget.conftest import AXE, OUTPUT
from tests.widget.helpers import (
    ask,
    ask_requests,
    check_png,
    focused,
    in_shadow,
    open_widget,
    q,
    wait_answer,
)

pytestmark = pytest.mark.browser


def plain(snippet: str) -> str:
    """A passage as the widget shows it: Markdown markers dropped, whitespace folded."""
    text = re.sub(r"\*\*|__|`", "", re.sub(r"```[\w-]*", " ", snippet))
    text = re.sub(r"\s+", " ", text).strip()
    return text if re.search(r"[.!?:;)\]\"']$", text) else text + "…"


# Records (busy, text length) of the newest answer and every status announcement.
OBSERVE = """
window.__frames = []; window.__status = [];
const log = root.querySelector(".log");
const status = root.querySelector('[role="status"]');
new MutationObserver(() => {
  const texts = log.querySelectorAll(".msg.bot .text");
  const t = texts[texts.length - 1];
  if (t) window.__frames.push([t.getAttribute("aria-busy") === "true", t.textContent.length]);
}).observe(log, { childList: true, subtree: true, characterData: true, attributes: true });
new MutationObserver(() => { if (status.textContent) window.__status.push(status.textContent); })
  .observe(status, { childList: true, subtree: true, characterData: true });
"""


def test_answer_streams_in_with_citation_links(tabs, llm_service, llm) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Lasso adds an L1 penalty that can set weights to exactly zero [1]. "
        "Ridge only shrinks them towards zero [2]. Use Lasso when few features matter [1]."
    )
    # The model writes four words, pauses, then finishes: the page must show the start early.
    llm.push(Reply.stall(1.5, after_chunks=4, text=text))
    tab = tabs(permissions=["clipboard-read", "clipboard-write"])
    page = tab.page
    response = page.goto(llm_service.url + "/")
    csp = response.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src and script_src.group(1) == "'self'", csp

    open_widget(page)
    in_shadow(page, OBSERVE)
    ask(page, "When should I use Lasso instead of Ridge?")

    answer = q(page, ".msg.bot .text").last
    expect(answer).to_contain_text("Lasso adds an L1")
    expect(answer).to_have_attribute("aria-busy", "true")  # the model is still paused
    assert "Ridge only" not in answer.text_content()
    bot = wait_answer(page, 1)
    expect(answer).to_contain_text("Use Lasso when few features matter")
    expect(answer).not_to_have_attribute("aria-busy", "true")

    frames = page.evaluate("window.__frames")
    partial = {n for busy, n in frames if busy and n > 0}
    assert len(partial) >= 2, f"streamed text should grow in steps before completion: {frames}"
    # The live region speaks twice (progress, finished answer), never once per token.
    expect(q(page, '[role="status"]')).to_have_text(re.compile(r"^Answer: Lasso adds an L1"))
    spoken = page.evaluate("window.__status")
    assert len(spoken) == 2 and spoken[0].startswith("Looking through"), spoken

    # Citations: numbered, title and section visible, snippet on hover and on focus.
    server = llm_service.assistant.ask("When should I use Lasso instead of Ridge?")  # cached
    cites = bot.locator(".cites li")
    expect(cites).to_have_count(len(server.citations))
    assert [c.id for c in server.citations] == [1, 2]
    for i, c in enumerate(server.citations):
        item = cites.nth(i)
        expect(item.locator(".cite-num")).to_have_text(f"[{c.id}] ")
        expect(item.locator(".cite-title")).to_have_text(c.title)
        expect(item.locator(".cite-title")).to_be_visible()
        section = c.section.split(" > ")[-1]
        expect(item.locator(".cite-section")).to_contain_text(section)
        # Corpus paths are not web addresses: shown as text, never as a link.
        assert not c.url.startswith("http")
        expect(item.locator(".cite-path")).to_have_text(c.url)
        assert item.locator("a").count() == 0
    first, tip = cites.nth(0), q(page, ".tip")
    passage = plain(server.citations[0].snippet)
    expect(tip).to_be_hidden()
    first.hover()
    expect(tip).to_be_visible()
    expect(tip).to_have_text(passage)
    box, panel = tip.bounding_box(), q(page, ".panel").bounding_box()
    assert panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"]
    page.mouse.move(5, 5)
    expect(tip).to_be_hidden()
    first.locator(".cite-link").focus()
    expect(tip).to_be_visible()
    described = first.locator(".cite-link").get_attribute("aria-describedby")
    expect(q(page, f"#{described}")).to_have_text(passage)  # what a screen reader hears
    page.keyboard.press("Escape")  # dismisses the passage, keeps the panel open
    expect(tip).to_be_hidden()
    expect(q(page, ".panel")).to_be_visible()
    # An inline [2] marker moves focus to its source.
    bot.locator(".text button.ref", has_text="[2]").click()
    assert focused(page) == "cite-link"
    expect(tip).to_have_text(plain(server.citations[1].snippet))

    # Quiet flags and the copy button.
    expect(bot.locator(".flag")).to_have_count(0)  # a fresh, non-degraded answer
    bot.locator("button.copy").click()
    expect(bot.locator("button.copy")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(text) and "Sources:\n[1] " in copied
    assert tab.errors == [] and page.evaluate("window.__csp") == []
    # The demo page enforces Trusted Types: every HTML sink throws, so all of the above was
    # rendered without one.
    sink = "() => { try { document.createElement('p').innerHTML = '<b>x</b>'; return 'allowed'; }"
    assert page.evaluate(sink + " catch (e) { return e.name; } }") == "TypeError"


def test_follow_up_keeps_the_conversation(tabs, service) -> None:  # type: ignore[no-untyped-def]
    page = tabs().page
    sent = ask_requests(page)
    page.goto(service.url + "/")
    open_widget(page)
    ask(page, "What does Ridge regression penalize?")
    wait_answer(page, 1)
    ask(page, "Why should the features be scaled first?")
    second = wait_answer(page, 2)
    expect(second.locator(".text")).not_to_be_empty()

    assert len(sent) == 2
    assert "conversation_id" not in sent[0]
    conversation = sent[1]["conversation_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", conversation), sent[1]
    # Keys are off on the demo service: the visitor is the learner id the service issued
    # before the first question (history.js), and /v1/ask receives it with each question.
    learner = sent[0]["_request"].all_headers()["x-learner-id"]
    assert sent[1]["_request"].all_headers()["x-learner-id"] == learner
    stored = service.assistant.conversations.open(f"learner:{learner}", conversation)
    assert stored.continued, "the widget's second question continued its conversation"
    assert [m["role"] for m in stored.history] == ["user", "assistant"] * 2
    assert stored.history[2]["content"] == "Why should the features be scaled first?"

    # "New conversation" forgets the id and clears the log; the same question again
    # is answered from the cache, and the panel says so quietly.
    q(page, "button.new").click()
    expect(q(page, ".msg")).to_have_count(0)
    assert focused(page) == "textarea"
    ask(page, "What does Ridge regression penalize?")
    again = wait_answer(page, 1)
    assert "conversation_id" not in sent[2]
    expect(again.locator(".flag.cache")).to_have_text(re.compile(r"^cached"))


def test_keyboard_alone(tabs, service) -> None:  # type: ignore[no-untyped-def]
    page = tabs().page
    page.goto(service.url + "/")
    q(page, ".launcher").wait_for()
    for _ in range(120):
        page.keyboard.press("Tab")
        if focused(page) == "launcher":
            break
    assert focused(page) == "launcher", "Tab never reached the launcher"
    outline = in_shadow(page, "return getComputedStyle(root.activeElement).outlineStyle;")
    assert outline != "none", "keyboard focus must be visible"

    page.keyboard.press("Enter")
    expect(q(page, ".panel")).to_be_visible()
    expect(q(page, ".launcher")).to_have_attribute("aria-expanded", "true")
    assert focused(page) == "textarea", "focus goes to the question box on open"
    page.keyboard.type("What is a Python generator?")
    page.keyboard.press("Enter")
    bot = wait_answer(page, 1)
    expect(bot.locator(".text")).to_contain_text("generator")

    page.keyboard.press("Escape")
    expect(q(page, ".panel")).to_be_hidden()
    assert focused(page) == "launcher", "focus returns to the launcher on close"
    expect(q(page, ".launcher")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")  # reopens with the conversation intact
    expect(q(page, ".msg.bot")).to_have_count(1)
    assert focused(page) == "textarea"


def test_screenshots_light_dark_and_phone(tabs, service) -> None:  # type: ignore[no-untyped-def]
    OUTPUT.mkdir(exist_ok=True)
    question = "When should I use Lasso instead of Ridge?"
    shots = [
        ("widget-open.png", 1280, 800, "light"),
        ("widget-open-dark.png", 1280, 800, "dark"),
        ("widget-open-360.png", 360, 740, "light"),
    ]
    backgrounds = {}
    for name, width, height, scheme in shots:
        page = tabs(viewport={"width": width, "height": height}, color_scheme=scheme).page
        page.goto(service.url + "/")
        phases = service.assistant.roadmap.phases
        expect(page.locator("#phases li.phase")).to_have_count(len(phases))
        # An example question on the demo page opens the widget and asks it.
        page.get_by_role("button", name=question).click()
        expect(q(page, ".panel")).to_be_visible()
        wait_answer(page, 1)
        expect(q(page, ".msg.user .text")).to_have_text(question)
        # Frame the shot on the question, its answer and the first sources.
        in_shadow(page, 'root.querySelector(".msg.user").scrollIntoView({block: "start"});')
        panel = q(page, ".panel").bounding_box()
        title = q(page, ".head h2").bounding_box()
        assert in_shadow(page, 'return root.querySelector(".panel").scrollTop;') == 0
        assert panel["y"] <= title["y"] < panel["y"] + 40, "the header stays in place"
        assert panel["x"] >= 0 and panel["y"] >= 0
        assert panel["x"] + panel["width"] <= width and panel["y"] + panel["height"] <= height
        if width == 360:
            assert panel["width"] == 360, "the panel fills a phone screen"
            overflow = in_shadow(
                page,
                'const p = root.querySelector(".panel"), l = root.querySelector(".log");'
                "return [p.scrollWidth - p.clientWidth, l.scrollWidth - l.clientWidth,"
                " document.documentElement.scrollWidth - innerWidth];",
            )
            assert overflow == [0, 0, 0], f"horizontal overflow at 360 px: {overflow}"
            # Full screen on a phone: a modal dialog, Tab wraps inside it.
            expect(q(page, ".panel")).to_have_attribute("aria-modal", "true")
            q(page, "button.send").focus()
            page.keyboard.press("Tab")
            assert focused(page) == "ghost new"
            page.keyboard.press("Shift+Tab")
            assert focused(page) == "send"
        backgrounds[scheme] = in_shadow(
            page, 'return getComputedStyle(root.querySelector(".panel")).backgroundColor;'
        )
        path = OUTPUT / name
        page.screenshot(path=str(path))
        check_png(path, width, height)
    assert backgrounds["light"] == "rgb(255, 255, 255)"
    assert backgrounds["dark"] == "rgb(24, 27, 32)"


def test_accessibility_with_axe(tabs, service) -> None:  # type: ignore[no-untyped-def]
    # axe is injected as a script tag, which the demo page's CSP forbids: bypass it here only.
    page = tabs(bypass_csp=True).page
    page.goto(service.url + "/")
    page.locator("#phases li").first.wait_for()
    open_widget(page)
    ask(page, "What is a Python generator?")
    wait_answer(page, 1)
    page.add_script_tag(path=str(AXE))
    results = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for scope, context in (("widget", {"include": [["study-assistant"]]}), ("page", None)):
            found = page.evaluate(
                "async (context) => (await axe.run(context || document,"
                " { resultTypes: ['violations'] })).violations"
                ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,"
                " targets: v.nodes.slice(0, 3).map(n => JSON.stringify(n.target))}))",
                context,
            )
            results[(scheme, scope)] = found
    bad = {
        key: [v for v in found if v["impact"] in ("serious", "critical")]
        for key, found in results.items()
    }
    assert all(not v for v in bad.values()), bad
