/* The question box: length limit, Send / Stop, Enter to send, and the rate-limit cooldown. */

import { codePoints, h } from "./dom.js";
import { T } from "./messages.js";

export function installComposer(w) {
  const { cfg, state } = w;
  const { input, counter, sendBtn, stopBtn, newBtn, form } = w.view;
  const announce = (...args) => w.announce(...args);
  const showBanner = (...args) => w.showBanner(...args);
  const ask = (...args) => w.ask(...args);
  const newConversation = (...args) => w.newConversation(...args);

  function questionLength() {
    return codePoints(input.value.trim());
  }

  function updateControls() {
    const n = questionLength();
    const over = n > cfg.maxChars;
    const waiting = state.retryUntil > Date.now();
    counter.textContent = over ? T.tooLong(n, cfg.maxChars) : `${n} / ${cfg.maxChars}`;
    counter.classList.toggle("over", over);
    input.setAttribute("aria-invalid", over ? "true" : "false");
    sendBtn.disabled = state.busy || over || waiting;
    stopBtn.disabled = !state.busy;
    if (waiting) {
      const left = Math.max(1, Math.ceil((state.retryUntil - Date.now()) / 1000));
      sendBtn.textContent = `Wait ${left} s`;
    } else sendBtn.textContent = "Send";
  }

  let wasOver = false;
  input.addEventListener("input", () => {
    updateControls();
    const over = questionLength() > cfg.maxChars;
    if (over !== wasOver) {
      wasOver = over;
      if (over) announce(T.tooLong(questionLength(), cfg.maxChars));
    }
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : submit();
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  stopBtn.addEventListener("click", () => {
    if (state.controller) state.controller.abort();
    input.focus();
  });
  newBtn.addEventListener("click", newConversation);

  function submit() {
    const question = input.value.trim();
    if (!question) {
      input.focus();
      return;
    }
    ask(question);
    // The clicked Send button is disabled while answering: keep focus in the box.
    if (state.open) input.focus();
  }

  function setBusy(busy) {
    state.busy = busy;
    updateControls();
  }

  function startCooldown(seconds) {
    state.retryUntil = Date.now() + seconds * 1000;
    const countdown = h("strong", { class: "countdown" });
    const tick = () => {
      const left = Math.ceil((state.retryUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(state.retryTimer);
        state.retryTimer = null;
        state.retryUntil = 0;
        showBanner(T.rateDone, { info: true, kind: "ready" });
        announce(T.rateDone);
      } else countdown.textContent = `${left} s`;
      updateControls();
    };
    clearInterval(state.retryTimer);
    showBanner([`${T.rate} ${T.rateAgain} `, countdown, "."], { kind: "rate-limited" });
    tick();
    state.retryTimer = setInterval(tick, 500);
    announce(`${T.rate} ${T.rateAgain} ${seconds} seconds.`, true);
  }

  /** Retry-After: delta-seconds or an HTTP date; a sane default when missing. */
  function retryAfterSeconds(res, message) {
    const raw = res.headers.get("Retry-After");
    if (raw) {
      const n = Number(raw);
      if (Number.isFinite(n) && n >= 0) return Math.max(1, Math.ceil(n));
      const at = Date.parse(raw);
      if (!Number.isNaN(at)) return Math.max(1, Math.ceil((at - Date.now()) / 1000));
    }
    const m = /retry in (\d+)/i.exec(message || "");
    return m ? Math.max(1, Number(m[1])) : 30;
  }

  Object.assign(w, { updateControls, setBusy, startCooldown, retryAfterSeconds });
}
