/* One question to POST /v1/ask: the streamed answer, and every way the request can fail. */

import { codePoints } from "./dom.js";
import { T } from "./messages.js";
import { readEvents } from "./sse.js";
import { reachable } from "./net.js";

export function installAsk(w) {
  const { cfg, state } = w;
  const { input } = w.view;
  const announce = (...args) => w.announce(...args);
  const showBanner = (...args) => w.showBanner(...args);
  const hideBanner = (...args) => w.hideBanner(...args);
  const updateControls = (...args) => w.updateControls(...args);
  const setBusy = (...args) => w.setBusy(...args);
  const startCooldown = (...args) => w.startCooldown(...args);
  const retryAfterSeconds = (...args) => w.retryAfterSeconds(...args);
  const addTurn = (...args) => w.addTurn(...args);
  const renderStreaming = (...args) => w.renderStreaming(...args);
  const finishTurn = (...args) => w.finishTurn(...args);
  const dropTurn = (...args) => w.dropTurn(...args);
  const interruptTurn = (...args) => w.interruptTurn(...args);


  async function readJson(res) {
    try {
      return await res.json();
    } catch (_) {
      return null;
    }
  }

  /** What to tell the reader about a failed request, and whether "Try again" makes sense. */
  function describeFailure(status, message, question) {
    if (status === 401 || status === 403) return { text: T.auth, retry: false };
    if (status === 413) return { text: T.tooLong(codePoints(question), cfg.maxChars), retry: false };
    if (status === 422) {
      return { text: `The question was not accepted: ${message || "invalid input"}.`, retry: false };
    }
    if (status === 503) return { text: T.notReady, retry: true };
    if (status === 502 || status === 504) return { text: T.upstream, retry: true };
    return { text: T.failed(status), retry: true };
  }

  function reportFailure(turn, status, message) {
    const { text, retry } = describeFailure(status, message, turn.question);
    // A partial answer stays on screen with a note; with no text, the turn is undone.
    const kept = interruptTurn(turn, text);
    showBanner(text, { retry: retry ? () => ask(turn.question) : null, kind: `http-${status}` });
    announce(kept ? `${text} The partial answer is kept.` : text, true);
  }

  async function httpError(res, turn) {
    const body = await readJson(res);
    const message = (body && body.error && body.error.message) || "";
    if (res.status === 429) {
      dropTurn(turn);
      startCooldown(retryAfterSeconds(res, message));
      return;
    }
    reportFailure(turn, res.status, message);
  }

  async function ask(question) {
    question = String(question || "").trim();
    if (!question) return;
    if (state.busy) {
      input.value = question;
      updateControls();
      return;
    }
    if (state.retryUntil > Date.now()) {
      input.value = question;
      updateControls();
      return;
    }
    const n = codePoints(question);
    if (n > cfg.maxChars) {
      input.value = question;
      updateControls();
      const text = T.tooLong(n, cfg.maxChars);
      showBanner(text, { kind: "too-long" });
      announce(text, true);
      return;
    }
    hideBanner();
    const turn = addTurn(question);
    input.value = "";
    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    announce("Looking through the study material…");

    const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (cfg.key) headers.Authorization = `Bearer ${cfg.key}`;
    if (w.askHeaders) Object.assign(headers, await w.askHeaders()); // history.js: the learner
    const body = { question, stream: true };
    if (state.conversationId) body.conversation_id = state.conversationId;
    if (cfg.k) body.k = cfg.k;

    try {
      let res;
      try {
        res = await fetch(`${cfg.api}/v1/ask`, {
          method: "POST",
          mode: "cors",
          credentials: "omit",
          cache: "no-store",
          headers,
          body: JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (err) {
        if (controller.signal.aborted) {
          interruptTurn(turn, T.stopped);
          announce(T.stopped);
          return;
        }
        dropTurn(turn);
        const cors = await reachable(cfg.api);
        const text = cors ? T.cors(location.origin) : T.down;
        showBanner(text, { retry: cors ? null : () => ask(input.value || question), kind: cors ? "cors" : "down" });
        announce(text, true);
        return;
      }
      if (!res.ok) {
        await httpError(res, turn);
        return;
      }
      if (!(res.headers.get("Content-Type") || "").includes("text/event-stream")) {
        const data = await readJson(res);
        if (data && typeof data.answer === "string") finishTurn(turn, data);
        else interruptTurn(turn, T.cut);
        return;
      }
      let failure = null; // an `error` event: {status, message}
      await readEvents(
        res,
        (event, raw) => {
          let data;
          try {
            data = JSON.parse(raw);
          } catch (_) {
            return true; // a malformed event is skipped, not fatal
          }
          if (event === "meta" && data.conversation_id) state.conversationId = data.conversation_id;
          else if (event === "delta") turn.answer += String(data.text || "");
          else if (event === "done") {
            finishTurn(turn, data);
            return false;
          } else if (event === "error") {
            failure = data.error || {};
            return false;
          }
          return true;
        },
        () => {
          if (!turn.done) renderStreaming(turn);
        },
      );
      if (turn.done) return;
      if (failure) {
        reportFailure(turn, Number(failure.status) || 500, String(failure.message || ""));
        return;
      }
      const kept = interruptTurn(turn, T.cut);
      showBanner(T.cut, { retry: () => ask(question), kind: "interrupted" });
      announce(kept ? `${T.cut} The partial answer is kept.` : T.cut, true);
    } catch (err) {
      if (controller.signal.aborted) {
        interruptTurn(turn, T.stopped);
        announce(T.stopped);
      } else {
        interruptTurn(turn, T.cut);
        showBanner(T.cut, { retry: () => ask(question), kind: "interrupted" });
        announce(T.cut, true);
      }
    } finally {
      if (state.controller === controller) state.controller = null;
      setBusy(false);
    }
  }

  Object.assign(w, { ask });
}
