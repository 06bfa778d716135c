"""The widget's Quiz and Progress views in Chromium against a real service on loopback.

The service indexes a tiny corpus (tests/widget/coach_corpus.py: five topics of phase 3 and
the project's roadmap), so every answer is known: a test answers right or wrong on purpose
and checks what the learner is shown, what is stored for them, and what a reader can reach
with the keyboard or a screen reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer, build_corpus_index, free_port, make_settings
from tests.widget.coach_corpus import CANARY, PHASE, TOPICS, right_answer, write_corpus
from tests.widget.conftest import AXE, embed_page
from tests.widget.helpers import focused, in_shadow, open_widget, q

pytestmark = pytest.mark.browser
KEY = "coach-widget-key"
ROUND = 5  # questions per round (quiz.js ROUND)


@pytest.fixture(scope="module")
def coach_index(embedder, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("coach-corpus")
    build_corpus_index(embedder, write_corpus(root), root / "index")
    return root / "index"


@pytest.fixture(scope="module")
def coach(coach_index, embedder, tmp_path_factory, site) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The real service over the tiny corpus; the second origin (site) may call it."""
    settings = make_settings(
        coach_index, tmp_path_factory.mktemp("coach-svc"), cors_origins=[site.origin]
    )
    with LiveServer(settings, embedder) as srv:
        yield srv


def storage_key(api: str) -> str:
    return f"study-assistant.learner:{api}"


def open_page(tabs, svc, site, name: str, **data: str) -> Any:  # type: ignore[no-untyped-def]
    """The widget on the second origin (cross-origin calls to ``svc``), opened."""
    url = site.add(f"/coach-{name}.html", embed_page(svc.url, svc.url, **data))
    tab = tabs()
    tab.page.goto(url)
    open_widget(tab.page)
    return tab


def coach_requests(page: Any) -> list[Any]:
    """Every request the page sends to the coach's endpoints."""
    seen: list[Any] = []
    page.on(
        "request",
        lambda r: seen.append(r) if re.search(r"/v1/(quizzes|progress|next)", r.url) else None,
    )
    return seen


def start_quiz(page: Any, phase: str = str(PHASE)) -> None:
    q(page, ".tab-quiz").click()
    q(page, ".quiz-phase").select_option(phase)
    q(page, ".quiz-start").click()
    q(page, ".quiz-question").wait_for()


def current_question(page: Any) -> tuple[str, str, list[str]]:
    form = q(page, ".quiz-question")
    form.wait_for()
    qtype = form.get_attribute("data-type") or ""
    prompt = form.locator(".quiz-prompt").text_content() or ""
    options = [t.strip() for t in form.locator(".quiz-option").all_text_contents()]
    return qtype, prompt, options


def answer(page: Any, right: bool) -> dict[str, str]:
    """Answer the question on screen (right or wrong on purpose) and wait for its grade."""
    qtype, prompt, options = current_question(page)
    good = right_answer(qtype, prompt, options)
    given = good if right else next((o for o in options if o != good), "no idea at all")
    form = q(page, ".quiz-question")
    if qtype == "mcq":
        form.locator(".quiz-option").filter(has_text=re.compile(f"^{re.escape(given)}$")).click()
    else:
        form.locator(".quiz-answer").fill(given)
    form.locator(".quiz-check").click()
    q(page, ".quiz-result").wait_for()
    return {"type": qtype, "prompt": prompt, "expected": good, "given": given}


def axe_violations(page: Any) -> dict[str, list[dict[str, Any]]]:
    """axe-core on the widget only, in light and dark; every impact counts."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        found[scheme] = page.evaluate(
            "async () => (await axe.run({include: [['study-assistant']]},"
            " { resultTypes: ['violations'] })).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3)"
            ".map(n => JSON.stringify(n.target))}))"
        )
    page.emulate_media(color_scheme="light")
    return found


def test_quiz_round_cross_origin_then_progress_and_what_next(tabs, coach, site) -> None:  # type: ignore[no-untyped-def]
    tab = open_page(tabs, coach, site, "round")
    page = tab.page
    sent = coach_requests(page)
    start_quiz(page)
    expect(q(page, ".quiz-meta")).to_have_text(f"Question 1 of {ROUND} · Phase {PHASE}")
    # Right, right, right, wrong, wrong: 60% of the phase's cards recalled.
    plan = [True, True, True, False, False]
    for i, right in enumerate(plan):
        asked = answer(page, right)
        result = q(page, ".quiz-result")
        expect(result).to_have_attribute("data-correct", str(right).lower())
        expect(result.locator(".quiz-verdict")).to_have_text("Correct" if right else "Not quite")
        expect(result.locator(".quiz-verdict")).to_be_focused()
        expect(result.locator(".quiz-yours")).to_have_text(f"Your answer: {asked['given']}")
        expect(result.locator(".quiz-expected")).to_have_text(
            f"Expected answer: {asked['expected']}"
        )
        expect(result.locator(".quiz-explanation")).to_contain_text("Why: ")
        cite = result.locator(".coach-cite")
        expect(cite.locator(".coach-cite-head")).to_contain_text("From: Hobby Notes — ")
        expect(cite.locator(".cite-path")).to_have_text("notes/hobbies.md")
        expect(cite.locator(".coach-passage")).to_contain_text("Core idea.")
        expect(q(page, '[role="status"]')).to_contain_text(
            ("Correct." if right else "Not quite.") + " Expected answer: "
        )
        # The question is spent (it cannot be answered twice), and its options say in words
        # which was right and which was chosen.
        expect(q(page, ".quiz-question .quiz-check")).to_be_hidden()
        expect(q(page, ".quiz-question input").first).to_be_disabled()
        right_option = q(page, ".quiz-option.right")
        expect(right_option).to_have_text(f"{asked['expected']} (right answer)")
        chosen = q(page, ".quiz-option.chosen")
        if right:
            expect(chosen).to_have_count(0)
        else:
            expect(chosen).to_have_text(f"{asked['given']} (your answer)")
        if i in (0, ROUND - 1):  # a graded question, right and wrong
            assert axe_violations(page) == {"light": [], "dark": []}, i
        q(page, ".quiz-next").click()
        if i + 1 < ROUND:
            expect(q(page, ".quiz-meta")).to_contain_text(f"Question {i + 2} of {ROUND}")
    expect(q(page, ".quiz-total")).to_have_text(f"You got 3 of {ROUND} right.")
    expect(q(page, ".quiz-summary-list li")).to_have_count(ROUND)
    expect(q(page, ".quiz-summary h3")).to_be_focused()
    summary_axe = axe_violations(page)

    # The learner id the server issued crossed origins (exposed header), was stored and is
    # sent back on every later request.
    learner = page.evaluate(f"localStorage.getItem({storage_key(coach.url)!r})")
    assert learner and re.fullmatch(r"[0-9a-f]{16,64}", learner), learner
    later = [r.all_headers().get("x-learner-id") for r in sent[1:]]
    assert later and all(h == learner for h in later), later

    q(page, ".quiz-summary button").filter(has_text="See your progress").click()
    expect(q(page, ".tab-progress")).to_have_attribute("aria-selected", "true")
    phase = q(page, f'.progress-phase[data-phase="{PHASE}"]')
    bar = phase.locator('[role="progressbar"]')
    expect(bar).to_have_attribute("aria-valuenow", "60")
    expect(bar).to_have_attribute("aria-valuemin", "0")
    expect(bar).to_have_attribute("aria-valuemax", "100")
    expect(bar).to_have_attribute("aria-valuetext", "60% mastered")
    label = in_shadow(
        page,
        "const bar = root.querySelector('.progress-phase[data-phase=\"3\"] [role=progressbar]');"
        "return root.getElementById(bar.getAttribute('aria-labelledby')).textContent;",
    )
    assert label.startswith(f"Phase {PHASE}: "), label
    expect(phase.locator(".progress-stats")).to_contain_text(
        f"{len(TOPICS)} of {len(TOPICS)} topics seen"
    )
    expect(phase.locator(".progress-stats")).to_contain_text(f"{ROUND} cards")
    expect(q(page, '.progress-phase[data-phase="1"] [role="progressbar"]')).to_have_attribute(
        "aria-valuenow", "0"
    )
    # What next: phase 3 is not mastered (60% < 80%), so the weakest topic there, cited
    # from the roadmap's own phase 3 passage.
    nxt = q(page, ".progress-next")
    expect(nxt.locator(".progress-reason")).to_contain_text(f"Phase {PHASE}")
    reason = nxt.locator(".progress-reason").text_content() or ""
    assert any(name in reason for name in TOPICS), reason
    expect(nxt.locator(".coach-cite-head")).to_contain_text(
        "Roadmap: Machine Learning Engineer Roadmap (2026)"
    )
    expect(nxt.locator(".coach-passage")).not_to_be_empty()
    progress_axe = axe_violations(page)
    assert summary_axe == {"light": [], "dark": []}, summary_axe
    assert progress_axe == {"light": [], "dark": []}, progress_axe

    # "Quiz me" starts a quiz on that phase; the cards answered wrong come back first.
    nxt.locator(".progress-quiz").click()
    expect(q(page, ".tab-quiz")).to_have_attribute("aria-selected", "true")
    expect(q(page, ".quiz-phase")).to_have_value(str(PHASE))
    q(page, ".quiz-question").wait_for()
    assert tab.errors == []


def test_learner_id_survives_a_reload(tabs, coach, site) -> None:  # type: ignore[no-untyped-def]
    tab = open_page(tabs, coach, site, "reload")
    page = tab.page
    start_quiz(page)
    first = answer(page, right=True)
    q(page, ".tab-progress").click()
    bar = q(page, f'.progress-phase[data-phase="{PHASE}"] [role="progressbar"]')
    expect(bar).to_have_attribute("aria-valuenow", "100")
    stats = q(page, f'.progress-phase[data-phase="{PHASE}"] .progress-stats')
    expect(stats).to_contain_text("1 of 5 topics seen · 0 cards due · 1 card · ")
    learner = page.evaluate(f"localStorage.getItem({storage_key(coach.url)!r})")
    assert learner

    page.reload()
    open_widget(page)
    q(page, ".tab-progress").click()
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(stats).to_contain_text("1 of 5 topics seen")
    assert page.evaluate(f"localStorage.getItem({storage_key(coach.url)!r})") == learner
    # The same learner: the question already answered is scheduled, a new one comes next.
    start_quiz(page)
    _, prompt, _ = current_question(page)
    assert prompt != first["prompt"]
    assert tab.errors == []


def test_tabs_and_a_quiz_by_keyboard_alone(tabs, coach, site) -> None:  # type: ignore[no-untyped-def]
    tab = open_page(tabs, coach, site, "keys")
    page = tab.page
    kb = page.keyboard
    assert focused(page) == "textarea"  # the chat is the first view, as before

    def tab_until(cls: str, back: bool = False, limit: int = 8) -> None:
        for _ in range(limit):
            if cls in (focused(page) or "").split():
                return
            kb.press("Shift+Tab" if back else "Tab")
        assert cls in (focused(page) or "").split(), focused(page)

    tab_until("tab-chat", back=True)
    expect(q(page, ".tab-chat")).to_have_attribute("aria-selected", "true")
    expect(q(page, '[role="tab"][tabindex="0"]')).to_have_count(1)  # one tab stop
    kb.press("ArrowRight")
    assert focused(page) == "tab tab-quiz"
    expect(q(page, ".tab-quiz")).to_have_attribute("aria-selected", "true")
    expect(q(page, ".view-quiz")).to_be_visible()
    expect(q(page, ".view-chat")).to_be_hidden()
    tab_until("quiz-phase")
    for _ in range(PHASE):
        kb.press("ArrowDown")
    expect(q(page, ".quiz-phase")).to_have_value(str(PHASE))
    tab_until("quiz-start")
    kb.press("Enter")
    q(page, ".quiz-question").wait_for()
    assert focused(page) == "input"  # the first option of the question
    kb.press("Tab")  # a radio group is one tab stop: on to "Check answer"
    assert focused(page) == "primary quiz-check"
    kb.press("Enter")  # nothing chosen yet: an inline hint, and focus back on the options
    expect(q(page, ".quiz-hint")).to_have_text("Choose one of the options first.")
    expect(q(page, '[role="alert"]')).to_have_text("Choose one of the options first.")
    assert focused(page) == "input"
    kb.press("Space")
    kb.press("Tab")
    kb.press("Enter")
    q(page, ".quiz-result").wait_for()
    assert focused(page) == "quiz-verdict"
    expect(q(page, '[role="status"]')).to_contain_text("Expected answer: ")
    tab_until("quiz-next")
    kb.press("Enter")
    expect(q(page, ".quiz-meta")).to_contain_text("Question 2 of 5")
    assert focused(page) == "input"

    tab_until("tab-quiz", back=True, limit=12)
    kb.press("End")
    assert focused(page) == "tab tab-progress"
    expect(q(page, ".view-progress")).to_be_visible()
    expect(q(page, f'.progress-phase[data-phase="{PHASE}"] [role="progressbar"]')).to_be_visible()
    kb.press("Home")
    assert focused(page) == "tab tab-chat"
    expect(q(page, ".view-chat")).to_be_visible()
    kb.press("ArrowLeft")  # wraps around to the last tab
    assert focused(page) == "tab tab-progress"
    kb.press("Escape")
    expect(q(page, ".panel")).to_be_hidden()
    assert focused(page) == "launcher"
    kb.press("Enter")  # reopened on the view it was left on
    expect(q(page, ".view-progress")).to_be_visible()
    assert focused(page) == "tab tab-progress"
    assert tab.errors == []


def test_canary_in_a_quiz_prompt_stays_text(tabs, coach, site) -> None:  # type: ignore[no-untyped-def]
    tab = open_page(tabs, coach, site, "canary")  # a host page without any CSP
    page = tab.page
    start_quiz(page)
    # The first new question is the first topic's multiple choice: the canary's.
    qtype, prompt, _ = current_question(page)
    assert qtype == "mcq" and CANARY in prompt, prompt
    answer(page, right=True)
    result = q(page, ".quiz-result")
    expect(result.locator(".quiz-explanation")).to_contain_text(CANARY)
    expect(result.locator(".coach-passage")).to_contain_text("onerror")
    counts = in_shadow(
        page,
        "return ['img', 'script', 'iframe', 'svg', '[onerror]']"
        ".map(s => root.querySelectorAll(s).length);",
    )
    assert counts == [0, 0, 0, 0, 0], counts
    assert page.evaluate("document.querySelectorAll('img, iframe').length") == 0
    assert page.evaluate("window.__xss === undefined")
    assert tab.errors == []


def test_coach_errors_show_inline(tabs, coach, site) -> None:  # type: ignore[no-untyped-def]
    tab = open_page(tabs, coach, site, "errors")
    page = tab.page
    q(page, ".tab-quiz").click()
    q(page, ".quiz-phase").select_option("5")  # no notes of phase 5 here: the service says 404
    q(page, ".quiz-start").click()
    box = q(page, ".view-quiz .coach-error")
    expect(box).to_have_attribute("data-kind", "http-404")
    expect(box).to_contain_text("There are no quiz questions for this choice")
    expect(q(page, '[role="alert"]')).to_contain_text("There are no quiz questions")
    q(page, ".view-quiz button").filter(has_text="Choose another phase").click()
    expect(q(page, ".quiz-setup")).to_be_visible()

    # The service is down: the Progress view says so and offers to try again.
    down = f"http://127.0.0.1:{free_port()}"
    url = site.add("/coach-down.html", embed_page(coach.url, down))
    page.goto(url)
    open_widget(page)
    q(page, ".tab-progress").click()
    box = q(page, ".view-progress .coach-error")
    expect(box).to_have_attribute("data-kind", "down")
    expect(box).to_contain_text("unavailable")
    expect(box.locator("button")).to_have_text("Try again")
    assert tab.errors == []


def test_with_api_keys_the_widget_key_is_the_learner(  # type: ignore[no-untyped-def]
    tabs, coach_index, embedder, tmp_path, site
) -> None:
    settings = make_settings(coach_index, tmp_path, api_keys=[KEY], cors_origins=[site.origin])
    with LiveServer(settings, embedder) as srv:
        tab = open_page(tabs, srv, site, "keyed", key=KEY)
        page = tab.page
        sent = coach_requests(page)
        start_quiz(page)
        answer(page, right=True)
        q(page, ".tab-progress").click()
        bar = q(page, f'.progress-phase[data-phase="{PHASE}"] [role="progressbar"]')
        expect(bar).to_have_attribute("aria-valuenow", "100")
        assert all(r.all_headers().get("authorization") == f"Bearer {KEY}" for r in sent)
        assert page.evaluate(f"localStorage.getItem({storage_key(srv.url)!r})") is None

        # Without the key the service refuses, and the widget says why.
        tab2 = open_page(tabs, srv, site, "keyless")
        q(tab2.page, ".tab-progress").click()
        box = q(tab2.page, ".view-progress .coach-error")
        expect(box).to_have_attribute("data-kind", "http-401")
        expect(box).to_contain_text("refused this site's key")
        assert tab.errors == [] and tab2.errors == []


def test_cloze_and_short_answers_are_typed(tabs, coach, site) -> None:  # type: ignore[no-untyped-def]
    # A learner who already answered the five multiple-choice questions (over the API):
    # new questions of other types come next, so the widget shows its text inputs.
    r = httpx.post(f"{coach.url}/v1/quizzes", json={"phase": PHASE, "n": ROUND}, timeout=60)
    learner, quiz = r.headers["X-Learner-Id"], r.json()
    assert {x["type"] for x in quiz["questions"]} == {"mcq"}
    answers = [
        {"id": x["id"], "answer": right_answer(x["type"], x["prompt"], x["options"])}
        for x in quiz["questions"]
    ]
    done = httpx.post(
        f"{coach.url}/v1/quizzes/{quiz['quiz_id']}/answers",
        json={"answers": answers},
        headers={"X-Learner-Id": learner},
        timeout=60,
    )
    assert done.status_code == 200 and all(x["correct"] for x in done.json()["results"])

    tab = open_page(tabs, coach, site, "typed")
    page = tab.page
    page.evaluate(f"localStorage.setItem({storage_key(coach.url)!r}, {learner!r})")
    start_quiz(page)
    seen = []
    for _ in range(3):
        qtype, prompt, _ = current_question(page)
        seen.append(qtype)
        box = q(page, ".quiz-question .quiz-answer")
        box.press("Control+Enter" if qtype == "short" else "Enter")  # empty: refused
        expect(q(page, ".quiz-hint")).to_have_text("Type an answer first.")
        expect(box).to_be_focused()
        good = right_answer(qtype, prompt, None)
        box.fill(good.lower() if qtype == "cloze" else good)  # case does not matter
        box.press("Control+Enter" if qtype == "short" else "Enter")
        result = q(page, ".quiz-result")
        expect(result).to_have_attribute("data-correct", "true")
        if qtype == "short":
            expect(result.locator(".quiz-score")).to_contain_text("Match with the reference")
        expect(result.locator(".quiz-expected")).to_contain_text(good)
        q(page, ".quiz-next").click()
    assert "cloze" in seen and "short" in seen, seen
    assert page.evaluate(f"localStorage.getItem({storage_key(coach.url)!r})") == learner
    assert tab.errors == []
