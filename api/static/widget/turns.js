/* The conversation log: a question and its answer as a turn, streamed, finished or dropped. */

import { sectionLabel } from "./citations.js";
import { h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { T } from "./messages.js";

export function installTurns(w) {
  const { state } = w;
  const { root, log, empty, input } = w.view;
  const announce = (...args) => w.announce(...args);
  const hideBanner = (...args) => w.hideBanner(...args);
  const startCooldown = (...args) => w.startCooldown(...args);
  const updateControls = (...args) => w.updateControls(...args);
  const citationList = (...args) => w.citationList(...args);
  const focusCitation = (...args) => w.focusCitation(...args);

  function scrollToEnd(force) {
    const near = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    if (force || near) log.scrollTop = log.scrollHeight;
  }

  function newConversation() {
    if (state.controller) state.controller.abort();
    state.conversationId = null;
    log.replaceChildren(empty);
    hideBanner();
    if (state.retryUntil > Date.now()) startCooldown(Math.ceil((state.retryUntil - Date.now()) / 1000));
    announce("New conversation started.");
    input.focus();
  }

  function addTurn(question) {
    empty.remove();
    const user = h(
      "div",
      { class: "msg user" },
      h("span", { class: "sr-only" }, "You asked: "),
      h("div", { class: "text" }, question),
    );
    const text = h("div", { class: "text", "aria-busy": "true" });
    const bot = h("div", { class: "msg bot" }, h("span", { class: "sr-only" }, "Answer: "), text);
    log.append(user, bot);
    scrollToEnd(true);
    return { question, user, bot, text, answer: "", done: false };
  }

  function renderStreaming(turn) {
    turn.text.replaceChildren(renderMarkdown(turn.answer, {}));
    scrollToEnd(false);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        () => true,
        () => legacyCopy(text),
      );
    }
    return Promise.resolve(legacyCopy(text));
  }

  function legacyCopy(text) {
    const area = h("textarea", { class: "sr-only", "aria-hidden": "true", tabindex: "-1" });
    area.value = text;
    root.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  function finishTurn(turn, data) {
    turn.done = true;
    turn.answer = String(data.answer || turn.answer || "");
    if (data.conversation_id) state.conversationId = data.conversation_id;
    const citations = Array.isArray(data.citations) ? data.citations : [];
    const { list, byId } = citationList(turn, citations);
    const ctx = { citations: byId, onCite: (n) => focusCitation(turn, n) };
    turn.text.replaceChildren(renderMarkdown(turn.answer, ctx));
    turn.text.removeAttribute("aria-busy");

    const meta = h("div", { class: "meta" });
    if (data.cache === "hit" || data.cache === "semantic") {
      const semantic = data.cache === "semantic";
      meta.append(
        h(
          "span",
          { class: "flag cache", title: semantic ? T.semanticLong : T.cachedLong },
          semantic ? T.semantic : T.cached,
          h("span", { class: "sr-only" }, `: ${semantic ? T.semanticLong : T.cachedLong}`),
        ),
      );
    }
    if (data.degraded) {
      meta.append(
        h(
          "span",
          { class: "flag warn degraded", title: T.degradedLong },
          T.degraded,
          h("span", { class: "sr-only" }, `: ${T.degradedLong}`),
        ),
      );
    }
    const copy = h(
      "button",
      { type: "button", class: "ghost copy", "aria-label": "Copy answer" },
      "Copy",
    );
    copy.addEventListener("click", async () => {
      const lines = [turn.answer];
      if (citations.length) {
        lines.push("", "Sources:");
        for (const c of citations) {
          const section = sectionLabel(c);
          lines.push(`[${c.id}] ${c.title || c.source}${section ? " — " + section : ""}${c.url ? " (" + c.url + ")" : ""}`);
        }
      }
      const ok = await copyText(lines.join("\n"));
      copy.textContent = ok ? "Copied" : "Copy failed";
      announce(ok ? "Answer copied." : "Could not copy the answer.");
      setTimeout(() => {
        copy.textContent = "Copy";
      }, 2000);
    });
    meta.append(copy);
    turn.bot.append(meta);
    if (data.roadmap) turn.bot.append(h("p", { class: "note roadmap" }, String(data.roadmap)));
    if (citations.length) turn.bot.append(list);
    if (w.addFeedback) w.addFeedback(turn, data); // thumbs and comment (feedback.js)
    scrollToEnd(false);
    const sources = citations.length
      ? ` ${citations.length} source${citations.length > 1 ? "s" : ""} listed below.`
      : "";
    announce(`Answer: ${turn.text.textContent}${sources}`);
  }

  /** Ends a turn that got no answer: the question goes back into the box, nothing is lost. */
  function dropTurn(turn) {
    turn.user.remove();
    turn.bot.remove();
    if (!log.querySelector(".msg")) log.append(empty);
    if (!input.value.trim()) input.value = turn.question;
    updateControls();
  }

  function interruptTurn(turn, note) {
    turn.text.removeAttribute("aria-busy");
    if (!turn.answer) {
      dropTurn(turn);
      return false;
    }
    renderStreaming(turn);
    turn.bot.append(h("p", { class: "note" }, note));
    return true;
  }

  Object.assign(w, { newConversation, addTurn, renderStreaming, finishTurn, dropTurn, interruptTurn });
}
