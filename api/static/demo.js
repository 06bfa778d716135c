/* Demo page: roadmap phases from GET /v1/roadmap and example questions for the widget.
 * Built with DOM APIs only (the page's CSP allows no inline script and no HTML sinks). */
(function () {
  "use strict";

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (name === "class") el.className = value;
      else el.setAttribute(name, String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) el.append(child);
    return el;
  }

  function askWidget(question) {
    if (window.StudyAssistant) window.StudyAssistant.ask(question);
    else document.addEventListener("study-assistant:ready", () => window.StudyAssistant.ask(question), { once: true });
  }

  function phaseCard(phase) {
    const id = `phase-${phase.number}`;
    const card = h("li", { class: "phase", "aria-labelledby": id });
    card.append(
      h("h3", { id }, h("span", { class: "num" }, `Phase ${phase.number}`), ` ${phase.title}`),
    );
    if (phase.goal) card.append(h("p", { class: "goal" }, phase.goal));
    if (phase.time) card.append(h("p", { class: "time muted" }, `Suggested time: ${phase.time}`));
    const groups = Object.entries(phase.topics || {});
    if (groups.length) {
      const details = h("details", null, h("summary", null, "Topics"));
      for (const [group, items] of groups) {
        details.append(h("p", { class: "group" }, group));
        const ul = h("ul");
        for (const item of items) ul.append(h("li", null, item));
        details.append(ul);
      }
      card.append(details);
    }
    const material = phase.material || [];
    if (material.length) {
      const details = h("details", null, h("summary", null, `Study material (${material.length})`));
      const ul = h("ul");
      for (const m of material) ul.append(h("li", null, m.title || m.source));
      details.append(ul);
      card.append(details);
    }
    const question = `What should I study in Phase ${phase.number} (${phase.title}), and why?`;
    const button = h("button", { type: "button", class: "ask-phase" }, "Ask about this phase");
    button.addEventListener("click", () => askWidget(question));
    card.append(button);
    return card;
  }

  async function loadRoadmap() {
    const status = document.getElementById("phases-status");
    const list = document.getElementById("phases");
    try {
      const res = await fetch("/v1/roadmap", { headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const data = await res.json();
      const phases = data.phases || [];
      list.replaceChildren(...phases.map(phaseCard));
      status.textContent = phases.length ? `${phases.length} phases.` : "The roadmap is empty.";
    } catch (err) {
      status.textContent = `The roadmap could not be loaded (${err.message}).`;
    }
  }

  function start() {
    for (const button of document.querySelectorAll("button.example")) {
      button.addEventListener("click", () => askWidget(button.dataset.question || button.textContent));
    }
    const code = document.getElementById("embed-code");
    if (code) {
      const origin = location.origin;
      code.textContent = `<script src="${origin}/widget.js" data-api="${origin}" data-key="CLIENT_KEY" defer></script>`;
    }
    loadRoadmap();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
