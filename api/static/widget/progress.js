/* The Progress view: each roadmap phase with its mastery bar, due cards and topics seen,
 * and the one "what next" recommendation with the roadmap passage that justifies it. */

import { citationBlock, errorBox, percent, plural } from "./coachkit.js";
import { h, nextId } from "./dom.js";
import { T } from "./messages.js";

export function installProgress(w) {
  const el = w.view.progressPanel;
  const announce = (...args) => w.announce(...args);
  const body = h("div", { class: "coach-stage" });
  const refreshBtn = h("button", { type: "button", class: "ghost progress-refresh" }, "Refresh");
  el.append(
    h("div", { class: "row progress-top" }, h("p", { class: "coach-intro" }, T.progressIntro), refreshBtn),
    body,
  );
  let loading = null;
  w.progressStale = true;

  function nextBlock(next) {
    if (!next || !next.reason) return null;
    const headId = nextId("next");
    const block = h(
      "section",
      { class: "progress-next", "aria-labelledby": headId },
      h("h3", { id: headId }, "What next"),
      h("p", { class: "progress-reason" }, String(next.reason)),
      citationBlock(next.citation, "Roadmap"),
    );
    if (next.phase && next.topic) {
      const label = `Quiz me on Phase ${Number(next.phase)}`;
      block.append(
        h(
          "div",
          { class: "row" },
          h(
            "button",
            {
              type: "button",
              class: "primary progress-quiz",
              onclick: () => {
                w.selectTab("quiz", true);
                w.startQuiz({ phase: Number(next.phase) });
              },
            },
            label,
          ),
        ),
      );
    }
    return block;
  }

  function masteryBar(labelId, share) {
    const value = percent(share);
    const fill = h("span", { class: "bar-fill" });
    fill.style.width = `${value}%`; // CSSOM, not a style attribute: no CSP 'unsafe-inline'
    return h(
      "div",
      {
        class: "bar",
        role: "progressbar",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(value),
        "aria-valuetext": `${value}% mastered`,
        "aria-labelledby": labelId,
      },
      fill,
    );
  }

  function phaseItem(p) {
    const number = Number(p.phase);
    const labelId = nextId("phase");
    const value = percent(p.mastery);
    const topics = Array.isArray(p.topics) ? p.topics : [];
    const stats = [
      `${Number(p.topics_seen) || 0} of ${Number(p.topics_total) || 0} topics seen`,
      `${plural(Number(p.due) || 0, "card")} due`,
      plural(Number(p.cards) || 0, "card"),
      `${plural(Number(p.questions_asked) || 0, "question")} asked`,
    ].join(" · ");
    const item = h(
      "li",
      { class: `progress-phase${p.mastered ? " mastered" : ""}`, "data-phase": String(number) },
      h(
        "p",
        { class: "progress-name" },
        h("span", { id: labelId }, `Phase ${number}: ${p.title || ""}`),
        h("span", { class: "progress-value" }, ` ${value}% mastered${p.mastered ? " ✓" : ""}`),
      ),
      masteryBar(labelId, p.mastery),
      h("p", { class: "progress-stats" }, stats),
    );
    if (topics.length) {
      const list = h(
        "ul",
        { class: "progress-topics" },
        ...topics.map((t) =>
          h(
            "li",
            { class: t.seen ? "seen" : "unseen" },
            String(t.topic || ""),
            h(
              "span",
              { class: "progress-topic-state" },
              t.seen ? ` — ${percent(t.mastery)}% recalled` : " — not quizzed yet",
            ),
          ),
        ),
      );
      item.append(h("details", null, h("summary", null, `Topics (${topics.length})`), list));
    }
    return item;
  }

  async function load() {
    if (loading) return loading;
    body.setAttribute("aria-busy", "true");
    if (!body.firstChild) body.append(h("p", { class: "coach-loading" }, "Loading your progress…"));
    loading = (async () => {
      const [progress, next] = await Promise.all([
        w.coachFetch("/v1/progress"),
        w.coachFetch("/v1/next"),
      ]);
      body.removeAttribute("aria-busy");
      if (!progress.ok) {
        body.replaceChildren(errorBox(progress.message, progress.kind, refresh));
        announce(progress.message, true);
        return;
      }
      const phases = Array.isArray(progress.data.phases) ? progress.data.phases : [];
      w.setPhaseTitles(phases);
      w.progressStale = false;
      const cards = phases.reduce((n, p) => n + (Number(p.cards) || 0), 0);
      const due = phases.reduce((n, p) => n + (Number(p.due) || 0), 0);
      const summary = `${plural(cards, "card")} studied, ${due} due for review.`;
      body.replaceChildren(
        next.ok ? nextBlock(next.data) : errorBox(next.message, next.kind, refresh),
        h("p", { class: "progress-total" }, summary),
        h("ol", { class: "progress-phases", "aria-label": "Roadmap phases" }, ...phases.map(phaseItem)),
      );
      announce(`Progress loaded: ${summary}`);
    })();
    try {
      await loading;
    } finally {
      loading = null;
    }
  }

  function refresh() {
    w.progressStale = true;
    return load();
  }

  refreshBtn.addEventListener("click", refresh);

  /** Called when the view is shown: reload when a quiz changed something. */
  function showProgress() {
    if (w.progressStale) load();
  }

  Object.assign(w, { showProgress, refreshProgress: refresh });
}
