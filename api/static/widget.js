/*! Study Assistant chat widget: one script tag, no build step, no framework.
 *
 * Embed with a single tag (data-api defaults to the origin this script came from):
 *   <script src="https://HOST/widget.js" data-api="https://HOST" data-key="CLIENT_KEY" defer></script>
 *
 * Optional attributes: data-title (panel title), data-max-chars (question length limit,
 * default 2000, as ASSISTANT_MAX_QUESTION_CHARS), data-theme ("light" | "dark"; default
 * follows prefers-color-scheme), data-k (passages per answer).
 * data-key is a *client* key (ASSISTANT_API_KEYS); it is visible to every visitor, so
 * never put the admin key there. The widget calls POST /v1/ask and the coach endpoints (/v1/quizzes, /v1/progress, /v1/next) on data-api.
 *
 * Page API: window.StudyAssistant.open(), .close(), .ask(question), .newConversation().
 *
 * This file is a small classic-script loader: it imports the widget's ES modules from
 * HOST/widget/ (main.js first; see its header for the parts) and its stylesheet
 * HOST/widget/widget.css. A host page with a Content-Security-Policy must allow HOST in
 * script-src (the loader and the modules) and in connect-src (the stylesheet and the API).
 *
 * Safety: model text and passages become DOM nodes through createElement/textContent
 * only (widget/markdown.js: a strict Markdown subset: paragraphs, lists, code, emphasis,
 * http(s) links); nothing from the network is ever parsed as HTML, and no image is ever
 * created.
 */
(function () {
  "use strict";

  // Included twice: keep the first.
  const MARK = Symbol.for("study-assistant.loaded");
  if (window[MARK] || document.querySelector("study-assistant")) return;
  window[MARK] = true;

  const script =
    document.currentScript || document.querySelector('script[src*="widget.js"]');
  // The widget's ES modules live next to this script (widget/main.js and its siblings), so
  // they always come from the same place, and the same version, as this loader.
  const entry = new URL("widget/main.js", (script && script.src) || location.href);
  import(entry.href).then(
    (widget) => widget.start(script),
    (err) => console.error(`Study assistant: ${entry.href} could not be loaded.`, err),
  );
})();
