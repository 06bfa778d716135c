/* Thumbs up/down and an optional comment under each answer (POST /v1/feedback).
 *
 * A thumb sends its rating at once and opens the comment box; sending a comment sends the
 * rating again with it (the server keeps one rating per answer: the latest). The buttons
 * are toggle buttons (aria-pressed); what happened is said next to them and announced. */

import { h, nextId } from "./dom.js";
import { T } from "./messages.js";

const MAX_COMMENT = 1000; // the server's limit, in characters

export function installFeedback(w) {
  const { cfg } = w;
  const announce = (...args) => w.announce(...args);

  async function send(body) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (cfg.key) headers.Authorization = `Bearer ${cfg.key}`;
    let res;
    try {
      res = await fetch(`${cfg.api}/v1/feedback`, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        headers,
        body: JSON.stringify(body),
      });
    } catch (_) {
      return { ok: false, message: T.feedbackDown };
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (res.ok) return { ok: true, data };
    const detail = (data && data.error && String(data.error.message || "")) || "";
    if (res.status === 404) return { ok: false, message: T.feedbackGone };
    if (res.status === 429) return { ok: false, message: T.rate };
    if (res.status === 401 || res.status === 403) return { ok: false, message: T.auth };
    if (res.status === 422) return { ok: false, message: `The rating was not accepted: ${detail || "invalid input"}.` };
    return { ok: false, message: T.failed(res.status) };
  }

  /** The feedback controls of one finished answer (``data``: the done event / JSON body). */
  function feedbackBar(data) {
    const requestId = data && data.request_id;
    if (!requestId) return null;
    const state = { rating: null, comment: null, busy: false };
    // Said through the widget's one polite live region (announce), shown here.
    const stateText = h("span", { class: "feedback-state" });
    // Words, not emoji: many systems have no emoji font and would show empty boxes.
    const thumb = (rating, text, title) =>
      h(
        "button",
        { type: "button", class: `ghost thumb thumb-${rating}`, "aria-pressed": "false", title },
        h("span", { class: "thumb-icon", "aria-hidden": "true" }),
        text,
      );
    const up = thumb("up", "Yes", "Helpful (thumbs up)");
    const down = thumb("down", "No", "Not helpful (thumbs down)");
    const bar = h(
      "div",
      { class: "feedback", role: "group", "aria-label": "Rate this answer" },
      h("div", { class: "feedback-row" }, h("span", { class: "feedback-ask" }, T.feedbackAsk), up, down, stateText),
    );
    let form = null; // the comment box, made when a thumb is chosen and removed once sent

    function say(text) {
      stateText.textContent = text;
      announce(text);
    }

    async function rate(rating, comment) {
      if (state.busy) return false;
      state.busy = true;
      bar.setAttribute("aria-busy", "true");
      const body = { request_id: requestId, rating };
      if (comment) body.comment = comment;
      const got = await send(body);
      state.busy = false;
      bar.removeAttribute("aria-busy");
      if (!got.ok) {
        bar.setAttribute("data-state", "error");
        say(got.message);
        return false;
      }
      state.rating = rating;
      state.comment = comment || null;
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      bar.setAttribute("data-state", rating);
      return true;
    }

    function commentForm() {
      const boxId = nextId("feedback-comment");
      const box = h("textarea", { id: boxId, rows: "2", maxlength: String(MAX_COMMENT) });
      const label = h("label", { for: boxId });
      const sendBtn = h("button", { type: "submit", class: "ghost feedback-send" }, "Send comment");
      const f = h("form", { class: "feedback-comment" }, label, box, sendBtn);
      f.addEventListener("submit", async (e) => {
        e.preventDefault();
        const comment = box.value.trim();
        if (!comment) {
          box.focus();
          return;
        }
        if (!(await rate(state.rating, comment))) return;
        f.remove();
        form = null;
        say(T.feedbackCommentSaved);
        (state.rating === "up" ? up : down).focus();
      });
      bar.append(f);
      return f;
    }

    async function choose(rating) {
      // A comment already sent stays with the answer when the thumb changes.
      if (!(await rate(rating, state.comment))) return;
      say(T.feedbackThanks);
      if (state.comment) return;
      form = form || commentForm();
      form.querySelector("label").textContent =
        rating === "down" ? "What was wrong or missing? (optional)" : "What was most useful? (optional)";
    }

    up.addEventListener("click", () => choose("up"));
    down.addEventListener("click", () => choose("down"));
    return bar;
  }

  /** Adds the feedback controls under a finished turn's answer. */
  function addFeedback(turn, data) {
    const bar = feedbackBar(data);
    if (bar) turn.bot.append(bar);
  }

  Object.assign(w, { addFeedback });
}
