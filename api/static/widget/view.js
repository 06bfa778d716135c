/* The widget's DOM: the host element, its shadow root and every fixed part of the panel.
 * Built once; the behaviour lives in the other modules, which receive these elements. */

import { h, nextId } from "./dom.js";
import { T } from "./messages.js";

/** Adopts ``css`` (the text of widget.css) into ``shadow``. */
function applyStyles(shadow, css) {
  if (!css) return;
  // Constructable stylesheets need no 'unsafe-inline' under a host page's CSP.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
    return;
  } catch (_) {
    /* older engines: fall back to a <style> element (needs style-src to allow it) */
  }
  const style = document.createElement("style");
  style.textContent = css;
  shadow.append(style);
}

export function createView(cfg, tag, css) {
  const host = document.createElement(tag);
  const shadow = host.attachShadow({ mode: "open" });
  applyStyles(shadow, css);

  const ids = {
    panel: nextId("panel"),
    title: nextId("title"),
    input: nextId("input"),
    counter: nextId("counter"),
    hint: nextId("hint"),
  };
  const root = h("div", { class: `root ${cfg.theme === "auto" ? "auto" : cfg.theme}` });
  const launcher = h(
    "button",
    {
      type: "button",
      class: "launcher",
      "aria-expanded": "false",
      "aria-controls": ids.panel,
      "aria-haspopup": "dialog",
    },
    h("span", { class: "bubble-icon", "aria-hidden": "true" }),
    h("span", null, "Ask a question"),
  );
  const newBtn = h("button", { type: "button", class: "ghost new" }, "New conversation");
  const closeBtn = h(
    "button",
    { type: "button", class: "ghost close", "aria-label": "Close the study assistant" },
    "×",
  );
  const log = h("div", {
    class: "log",
    role: "region",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  const empty = h("p", { class: "empty" }, T.intro);
  log.append(empty);
  const bannerText = h("p", { class: "msg-text" });
  const bannerAction = h("button", { type: "button", hidden: true }, "Try again");
  const banner = h("div", { class: "banner", hidden: true }, bannerText, bannerAction);
  const input = h("textarea", {
    id: ids.input,
    rows: "2",
    placeholder: T.placeholder,
    "aria-describedby": `${ids.counter} ${ids.hint}`,
    autocomplete: "off",
  });
  const counter = h("span", { id: ids.counter, class: "counter" });
  const stopBtn = h("button", { type: "button", class: "stop", disabled: true }, "Stop");
  const sendBtn = h("button", { type: "submit", class: "send" }, "Send");
  const form = h(
    "form",
    { class: "composer", "aria-label": "Ask the study assistant" },
    h("label", { for: ids.input, class: "sr-only" }, "Your question"),
    input,
    h("span", { id: ids.hint, class: "sr-only" }, T.hint),
    h("div", { class: "row" }, counter, stopBtn, sendBtn),
  );
  // Two live regions: polite for progress and finished answers, assertive for errors.
  // Streamed tokens never go into either (a screen reader would read every word).
  const status = h("div", { class: "sr-only", role: "status", "aria-live": "polite" });
  const alertRegion = h("div", { class: "sr-only", role: "alert" });
  const panel = h(
    "div",
    {
      id: ids.panel,
      class: "panel",
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": ids.title,
      hidden: true,
    },
    h("div", { class: "head" }, h("h2", { id: ids.title }, cfg.title), newBtn, closeBtn),
    log,
    banner,
    form,
  );
  // The passage tooltip (see showTip): shared, fixed, hidden from screen readers.
  const tip = h("p", { class: "tip", "aria-hidden": "true", hidden: true });
  root.append(launcher, panel, tip, status, alertRegion);
  shadow.append(root);

  return {
    host,
    shadow,
    root,
    launcher,
    newBtn,
    closeBtn,
    log,
    empty,
    banner,
    bannerText,
    bannerAction,
    input,
    counter,
    stopBtn,
    sendBtn,
    form,
    status,
    alertRegion,
    panel,
    tip,
  };
}
