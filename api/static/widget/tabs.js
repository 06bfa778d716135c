/* Chat, Quiz and Progress: the panel's three views as an ARIA tab set.
 *
 * WAI-ARIA tabs pattern with automatic activation: one tab stop (roving tabindex), Left and
 * Right arrows move between tabs and show their view, Home and End jump to the ends. The
 * chat's elements (log, banner, composer) move into the first tab panel unchanged. */

import { h, nextId } from "./dom.js";

const VIEWS = [
  { name: "chat", label: "Chat" },
  { name: "quiz", label: "Quiz" },
  { name: "progress", label: "Progress" },
];

export function installTabs(w) {
  const { view, state } = w;
  const { panel, log, banner, form, input, newBtn } = view;
  const hideTip = (...args) => w.hideTip(...args);

  const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Study assistant views" });
  const tabs = {};
  const panels = {};
  for (const v of VIEWS) {
    const tabId = nextId(`tab-${v.name}`);
    const panelId = nextId(`view-${v.name}`);
    tabs[v.name] = h(
      "button",
      {
        type: "button",
        role: "tab",
        id: tabId,
        class: `tab tab-${v.name}`,
        "aria-controls": panelId,
        "aria-selected": "false",
        tabindex: "-1",
        "data-view": v.name,
      },
      v.label,
    );
    panels[v.name] = h("div", {
      id: panelId,
      role: "tabpanel",
      class: `view view-${v.name}`,
      "aria-labelledby": tabId,
      hidden: true,
    });
    tablist.append(tabs[v.name]);
  }
  // The chat keeps its own scroller (the log); the coach views scroll as a whole, and are
  // focusable so a keyboard can scroll them (their first control may be far down).
  panels.quiz.setAttribute("tabindex", "0");
  panels.progress.setAttribute("tabindex", "0");
  panels.chat.append(log, banner, form);
  panel.append(tablist, panels.chat, panels.quiz, panels.progress);
  view.tablist = tablist;
  view.tabs = tabs;
  view.quizPanel = panels.quiz;
  view.progressPanel = panels.progress;
  view.chatPanel = panels.chat;
  state.tab = null;

  function focusCurrent() {
    if (state.tab === "chat") input.focus();
    else tabs[state.tab].focus();
  }

  /** Show view ``name``; with ``focusContent`` focus moves into it (else it stays put). */
  function selectTab(name, focusContent) {
    if (!tabs[name]) return;
    hideTip(false);
    for (const v of VIEWS) {
      const on = v.name === name;
      tabs[v.name].setAttribute("aria-selected", String(on));
      tabs[v.name].setAttribute("tabindex", on ? "0" : "-1");
      panels[v.name].hidden = !on;
    }
    newBtn.hidden = name !== "chat"; // "New conversation" belongs to the chat
    const changed = state.tab !== name;
    state.tab = name;
    if (name === "progress" && w.showProgress) w.showProgress();
    if (focusContent) {
      if (name === "chat") input.focus();
      else if (name === "quiz" && w.focusQuiz) w.focusQuiz();
      else panels[name].focus();
    }
    if (changed) w.view.host.setAttribute("data-view", name);
  }

  tablist.addEventListener("click", (e) => {
    const tab = e.target.closest('[role="tab"]');
    if (tab) selectTab(tab.getAttribute("data-view"));
  });
  tablist.addEventListener("keydown", (e) => {
    const names = VIEWS.map((v) => v.name);
    const i = names.indexOf(state.tab);
    let to = null;
    if (e.key === "ArrowRight") to = names[(i + 1) % names.length];
    else if (e.key === "ArrowLeft") to = names[(i - 1 + names.length) % names.length];
    else if (e.key === "Home") to = names[0];
    else if (e.key === "End") to = names[names.length - 1];
    if (!to) return;
    e.preventDefault();
    selectTab(to);
    tabs[to].focus();
  });

  selectTab("chat");
  Object.assign(w, { selectTab, focusCurrent });
}
