/* The Quiz view: pick a phase, answer one question at a time, see it graded with its passage.
 *
 * Each question is its own quiz of one (POST /v1/quizzes {n: 1}) answered at once: the API
 * grades a quiz exactly once, and immediate feedback with the cited passage is what makes
 * a quiz teach. It also schedules every card as soon as it is answered, so a round that is
 * left halfway still counts, and the server's order (due cards first) applies to every
 * question, not just to the first one of a batch.
 */

import { citationBlock, errorBox, inlineCode, percent } from "./coachkit.js";
import { h, nextId } from "./dom.js";
import { T } from "./messages.js";

export const ROUND = 5; // questions per round
const PHASES = 9;

export function installQuiz(w) {
  const el = w.view.quizPanel;
  const announce = (...args) => w.announce(...args);
  const quiz = { round: null, current: null, busy: false };
  const ids = { phase: nextId("quiz-phase") };

  const stage = h("div", { class: "coach-stage" });
  const phaseSelect = h(
    "select",
    { id: ids.phase, class: "quiz-phase" },
    h("option", { value: "" }, "All phases"),
    ...Array.from({ length: PHASES }, (_, i) => h("option", { value: String(i + 1) }, `Phase ${i + 1}`)),
  );
  const startBtn = h("button", { type: "submit", class: "primary quiz-start" }, "Start quiz");
  const setup = h(
    "form",
    { class: "quiz-setup", "aria-label": "Start a quiz" },
    h("p", { class: "coach-intro" }, T.quizIntro),
    h(
      "div",
      { class: "row" },
      h("label", { for: ids.phase }, "Phase"),
      phaseSelect,
      startBtn,
    ),
  );
  el.append(setup, stage);

  /** Phase titles from the progress view (once loaded) label the options. */
  function setPhaseTitles(phases) {
    for (const p of phases || []) {
      const opt = phaseSelect.querySelector(`option[value="${Number(p.phase)}"]`);
      if (opt && p.title) opt.textContent = `Phase ${Number(p.phase)}: ${p.title}`;
    }
  }

  function show(...nodes) {
    stage.replaceChildren(...nodes.filter(Boolean));
  }

  function focusFirst(node) {
    const target = node && node.querySelector("input, textarea, button, [tabindex]");
    if (target) target.focus();
  }

  function startQuiz(opts) {
    opts = opts || {};
    if (opts.phase !== undefined) phaseSelect.value = opts.phase ? String(opts.phase) : "";
    const phase = phaseSelect.value ? Number(phaseSelect.value) : null;
    quiz.round = { phase, topic: opts.topic || null, results: [] };
    setup.hidden = true;
    nextQuestion();
  }

  setup.addEventListener("submit", (e) => {
    e.preventDefault();
    startQuiz();
  });

  async function nextQuestion() {
    const round = quiz.round;
    if (round.results.length >= ROUND) return summary();
    const loading = h("p", { class: "coach-loading" }, "Loading a question…");
    show(loading);
    announce("Loading a question…");
    const body = { n: 1 };
    if (round.phase) body.phase = round.phase;
    if (round.topic) body.topic = round.topic;
    const res = await w.coachFetch("/v1/quizzes", { method: "POST", body });
    if (quiz.round !== round) return; // a new round started meanwhile
    if (!res.ok) {
      show(errorBox(res.message, res.kind, res.status === 404 ? null : nextQuestion), backButton());
      announce(res.message, true);
      return;
    }
    const question = (res.data.questions || [])[0];
    if (!question) {
      if (round.results.length) return summary(T.quizEmpty);
      show(h("p", { class: "coach-note" }, T.quizEmpty), backButton());
      announce(T.quizEmpty);
      return;
    }
    quiz.current = { quizId: String(res.data.quiz_id), question };
    renderQuestion(question);
  }

  function backButton() {
    return h("button", { type: "button", class: "ghost", onclick: () => reset(true) }, "Choose another phase");
  }

  function reset(focus) {
    quiz.round = null;
    quiz.current = null;
    stage.replaceChildren();
    setup.hidden = false;
    if (focus) phaseSelect.focus();
  }

  function questionMeta(question) {
    const k = quiz.round.results.length + 1;
    const phase = question.phase ? ` · Phase ${Number(question.phase)}` : "";
    return `Question ${k} of ${ROUND}${phase}`;
  }

  function renderQuestion(question) {
    const promptId = nextId("prompt");
    const hintId = nextId("hint");
    const type = String(question.type);
    const hint = h("p", { id: hintId, class: "quiz-hint", hidden: true });
    const checkBtn = h("button", { type: "submit", class: "primary quiz-check" }, "Check answer");
    let field;
    let read;
    if (type === "mcq" && Array.isArray(question.options)) {
      const name = nextId("choice");
      const choices = question.options.map((option) =>
        h(
          "label",
          { class: "quiz-option" },
          h("input", { type: "radio", name, value: String(option) }),
          h("span", null, ...inlineCode(option)),
        ),
      );
      field = h(
        "fieldset",
        { class: "quiz-choices", "aria-describedby": hintId },
        h("legend", { id: promptId, class: "quiz-prompt" }, ...inlineCode(question.prompt)),
        ...choices,
      );
      read = () => {
        const picked = field.querySelector("input:checked");
        return picked ? picked.value : "";
      };
    } else {
      const inputId = nextId("answer");
      const input =
        type === "short"
          ? h("textarea", { id: inputId, rows: "3", class: "quiz-answer", "aria-describedby": `${promptId} ${hintId}` })
          : h("input", { id: inputId, type: "text", class: "quiz-answer", autocomplete: "off", "aria-describedby": `${promptId} ${hintId}` });
      if (type === "short") {
        input.addEventListener("keydown", (e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            form.requestSubmit();
          }
        });
      }
      field = h(
        "div",
        { class: "quiz-field" },
        h("p", { id: promptId, class: "quiz-prompt" }, ...inlineCode(question.prompt)),
        h("label", { for: inputId }, type === "short" ? "Your answer (a sentence or two)" : "The missing term"),
        input,
      );
      read = () => input.value.trim();
    }
    const form = h(
      "form",
      { class: "quiz-question", "data-type": type, "aria-labelledby": promptId },
      h("p", { class: "quiz-meta" }, questionMeta(question)),
      field,
      hint,
      h("div", { class: "row" }, checkBtn),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const answer = read();
      if (!answer) {
        hint.textContent = type === "mcq" ? T.chooseOption : T.typeAnswer;
        hint.hidden = false;
        field.setAttribute("aria-invalid", "true");
        announce(hint.textContent, true);
        focusFirst(field);
        return;
      }
      hint.hidden = true;
      field.removeAttribute("aria-invalid");
      submitAnswer(form, answer);
    });
    show(form);
    focusFirst(field);
  }

  async function submitAnswer(form, answer) {
    if (quiz.busy) return;
    const { quizId, question } = quiz.current;
    const round = quiz.round;
    quiz.busy = true;
    for (const c of form.querySelectorAll("input, textarea, button")) c.disabled = true;
    form.setAttribute("aria-busy", "true");
    announce("Checking your answer…");
    const res = await w.coachFetch(`/v1/quizzes/${encodeURIComponent(quizId)}/answers`, {
      method: "POST",
      body: { answers: [{ id: String(question.id), answer }] },
    });
    quiz.busy = false;
    form.removeAttribute("aria-busy");
    if (quiz.round !== round) return;
    stage.querySelectorAll(".coach-error").forEach((n) => n.remove());
    if (!res.ok) {
      const retry = res.status === 409 ? null : () => submitAnswer(form, answer);
      if (retry) for (const c of form.querySelectorAll("input, textarea, button")) c.disabled = false;
      const box = errorBox(res.message, res.kind, retry);
      if (!retry) box.append(h("button", { type: "button", onclick: nextQuestion }, "Next question"));
      stage.append(box);
      announce(res.message, true);
      focusFirst(box);
      return;
    }
    const result = (res.data.results || [])[0] || {};
    round.results.push({ question, answer, result });
    w.progressStale = true;
    if (Array.isArray(res.data.progress)) setPhaseTitles(res.data.progress);
    // The spent question: its button goes, and for multiple choice the options say
    // which one was right and which one was chosen (in words, not only in colour).
    form.querySelector(".quiz-check").closest(".row").hidden = true;
    for (const label of form.querySelectorAll(".quiz-option")) {
      const value = label.querySelector("input").value;
      const mark = value === String(result.expected) ? "right" : value === answer ? "chosen" : "";
      if (!mark) continue;
      label.classList.add(mark);
      label.append(h("span", { class: "quiz-option-mark" }, mark === "right" ? " (right answer)" : " (your answer)"));
    }
    renderResult(question, answer, result);
  }

  function renderResult(question, answer, result) {
    const correct = result.correct === true;
    const verdict = correct ? "Correct" : "Not quite";
    const headId = nextId("result");
    const last = quiz.round.results.length >= ROUND;
    const nextBtn = h(
      "button",
      { type: "button", class: "primary quiz-next", onclick: nextQuestion },
      last ? "See the summary" : "Next question",
    );
    const score =
      question.type === "short" && typeof result.score === "number"
        ? h("p", { class: "quiz-score" }, `Match with the reference answer: ${percent(result.score)}%`)
        : null;
    const phase = question.phase ? ` (Phase ${Number(question.phase)})` : "";
    const section = h(
      "section",
      { class: `quiz-result ${correct ? "ok" : "wrong"}`, "aria-labelledby": headId, "data-correct": String(correct) },
      h("h3", { id: headId, class: "quiz-verdict", tabindex: "-1" }, verdict),
      h("p", { class: "quiz-yours" }, h("strong", null, "Your answer: "), answer),
      h("p", { class: "quiz-expected" }, h("strong", null, "Expected answer: "), ...inlineCode(result.expected)),
      score,
      h("p", { class: "quiz-topic" }, h("strong", null, "Topic: "), `${question.topic || ""}${phase}`),
      result.explanation
        ? h("p", { class: "quiz-explanation" }, h("strong", null, "Why: "), ...inlineCode(result.explanation))
        : null,
      citationBlock(result.citation, "From"),
      h("div", { class: "row" }, nextBtn),
    );
    stage.append(section);
    section.querySelector("h3").focus();
    announce(`${verdict}. Expected answer: ${result.expected || ""}.`);
  }

  function summary(note) {
    const round = quiz.round;
    const right = round.results.filter((r) => r.result.correct === true).length;
    const total = round.results.length;
    const headId = nextId("summary");
    const list = h(
      "ol",
      { class: "quiz-summary-list" },
      ...round.results.map((r) =>
        h(
          "li",
          { class: r.result.correct ? "ok" : "wrong" },
          h("span", { class: "quiz-mark" }, r.result.correct ? "Correct: " : "Not quite: "),
          String(r.question.topic || ""),
        ),
      ),
    );
    const text = `You got ${right} of ${total} right.`;
    show(
      h(
        "section",
        { class: "quiz-summary", "aria-labelledby": headId },
        h("h3", { id: headId, tabindex: "-1" }, "Quiz finished"),
        h("p", { class: "quiz-total" }, text),
        note ? h("p", { class: "coach-note" }, note) : null,
        list,
        h(
          "div",
          { class: "row" },
          h("button", { type: "button", class: "primary", onclick: () => startQuiz() }, "Another quiz"),
          h("button", { type: "button", class: "ghost", onclick: () => w.selectTab("progress", true) }, "See your progress"),
        ),
      ),
    );
    stage.querySelector("h3").focus();
    announce(`Quiz finished. ${text}`);
  }

  /** Where focus goes when the Quiz view is entered from elsewhere. */
  function focusQuiz() {
    const target = stage.querySelector(".quiz-verdict, .quiz-summary h3, input, textarea, button");
    (target || phaseSelect).focus();
  }

  Object.assign(w, { startQuiz, setPhaseTitles, focusQuiz });
}
