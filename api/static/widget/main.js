/* Study Assistant chat widget: the module entry.
 *
 * widget.js (the one classic <script> tag a host page carries) imports this module from
 * the folder next to it and calls start() with its own <script> element. The modules:
 *   config.js    data-* attributes → settings      view.js      the shadow DOM, built once
 *   markdown.js  model text → DOM (XSS boundary)   panel.js     open/close, keys, banner
 *   sse.js       server-sent events over fetch     composer.js  question box, cooldown
 *   dom.js       element helpers, safe links       turns.js     questions and answers
 *   messages.js  every sentence shown              citations.js sources and their passages
 *   widget.css   the shadow root's stylesheet      ask.js       POST /v1/ask and its failures
 *   tabs.js      Chat | Quiz | Progress tabs       learner.js   coach requests, X-Learner-Id
 *   quiz.js      the Quiz view                     progress.js  the Progress view
 *   coachkit.js  errors/passages of those views   history.js   kept conversations, History list
 *   passages.js  a cited passage in a side panel   feedback.js  thumbs and comment per answer
 * The parts share one context ``w`` (settings, elements, state); each install* adds its
 * functions to it, and calls between parts go through it at event time.
 */

import { installAsk } from "./ask.js";
import { installCitations } from "./citations.js";
import { installHistory } from "./history.js";
import { installComposer } from "./composer.js";
import { readConfig } from "./config.js";
import { installFeedback } from "./feedback.js";
import { installLearner } from "./learner.js";
import { installPanel } from "./panel.js";
import { installPassages } from "./passages.js";
import { installProgress } from "./progress.js";
import { installQuiz } from "./quiz.js";
import { installTabs } from "./tabs.js";
import { installTurns } from "./turns.js";
import { createView } from "./view.js";

const TAG = "study-assistant";
let started = false;

/** The text of widget.css (next to this module), or null when it cannot be read. */
async function loadStyles() {
  // fetch (connect-src), not <link> (style-src): the sheet is adopted as a constructable
  // stylesheet, which a host page's CSP does not treat as an inline style.
  const url = new URL("widget.css", import.meta.url);
  try {
    const res = await fetch(url, { credentials: "omit" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.text();
  } catch (err) {
    console.error(`Study assistant: its stylesheet ${url.href} could not be loaded (${err.message}).`);
    return null;
  }
}

export async function start(script) {
  if (started || document.querySelector(TAG)) return; // included twice: keep the first
  started = true;
  const cfg = readConfig(script);
  const css = await loadStyles();
  if (css === null) return; // an unstyled widget would spill into the host page
  const w = {
    cfg,
    view: createView(cfg, TAG, css),
    state: {
      open: false,
      busy: false,
      controller: null,
      conversationId: null,
      retryUntil: 0,
      retryTimer: null,
      retry: null, // what "Try again" does
    },
  };
  installPanel(w);
  installCitations(w);
  installTurns(w);
  installComposer(w);
  installAsk(w);
  installTabs(w);
  installLearner(w);
  installQuiz(w);
  installProgress(w);
  installHistory(w);
  installPassages(w);
  installFeedback(w);

  const { host } = w.view;
  w.updateControls();
  host.setAttribute("data-state", "closed");
  if (!window.StudyAssistant) {
    window.StudyAssistant = Object.freeze({
      open: w.open,
      close: w.close,
      newConversation() {
        w.selectTab("chat");
        return w.newConversation();
      },
      ask(question) {
        w.selectTab("chat");
        w.open();
        return w.ask(question);
      },
    });
  }
  const mount = () => {
    document.body.append(host);
    document.dispatchEvent(new CustomEvent("study-assistant:ready"));
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
}
