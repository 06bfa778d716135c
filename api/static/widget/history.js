/* Conversation history: the chat survives a reload, and past conversations can be resumed
 * or exported as Markdown.
 *
 * The conversation id is kept in localStorage (one per service address) and its turns are
 * fetched from GET /v1/conversations/{id} when the panel first opens. Conversations belong
 * to the site's key, or (without keys, or with a public key) to the learner id the service
 * issues in X-Learner-Id (learner.js keeps it); a visitor without one gets it from the
 * list endpoint before the first question, and /v1/ask receives it with every question.
 * The "History" button in the panel's head shows the list inside the chat view.
 * Requests go through coachFetch (learner.js): one place for keys, learner ids and failures.
 * The sentences of this view live here rather than in messages.js: one module, one feature. */

import { errorBox } from "./coachkit.js";
import { h, nextId } from "./dom.js";
import { readLearner } from "./learner.js";
import { T } from "./messages.js";

const PAGE = 20; // conversations per page of the list
const LEARNER_HEADER = "X-Learner-Id";
const S = {
  heading: "Your conversations",
  intro: "Pick one to continue it. Conversations are kept by this service for this browser.",
  empty: "No conversations yet: ask a question and it will be listed here.",
  loading: "Loading your conversations…",
  more: "Show older",
  restoreFailed: "Your earlier conversation could not be loaded.",
  resumed: (title) => `Conversation resumed: ${title}`,
  restored: (n) => `Earlier conversation restored: ${n} question${n === 1 ? "" : "s"}.`,
  listFailed: (status) => `Your conversations could not be loaded (HTTP ${status}).`,
  exportFailed: "The conversation could not be exported. Try again.",
  exported: "Conversation exported as Markdown.",
};

function storageKey(api) {
  return `study-assistant.conversation:${api}`;
}

function readStored(api) {
  try {
    const id = window.localStorage.getItem(storageKey(api)) || "";
    return /^[0-9a-f]{32}$/.test(id) ? id : "";
  } catch (_) {
    return ""; // localStorage unavailable (private mode, sandbox): nothing survives a reload
  }
}

function writeStored(api, id) {
  try {
    if (id) window.localStorage.setItem(storageKey(api), id);
    else window.localStorage.removeItem(storageKey(api));
  } catch (_) {
    /* not persisted: this page view still works */
  }
}

const questions = (c) => Math.floor((Number(c.turn_count) || 0) / 2);

function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function installHistory(w) {
  const { cfg, state, view } = w;
  const { root, log, empty, newBtn } = view;
  const announce = (...args) => w.announce(...args);

  // ------------------------------------------------------------------ the view
  const listId = nextId("history");
  const toggle = h(
    "button",
    { type: "button", class: "ghost history-toggle", "aria-expanded": "false", "aria-controls": listId },
    "History",
  );
  newBtn.after(toggle); // after it: "New conversation" stays the panel's first control
  const headId = nextId("history-head");
  const list = h("ul", { class: "history-list", "aria-labelledby": headId });
  const status = h("p", { class: "coach-note history-status" });
  const moreBtn = h("button", { type: "button", class: "ghost history-more", hidden: true }, S.more);
  const startBtn = h("button", { type: "button", class: "primary history-new" }, "New conversation");
  const pane = h(
    "section",
    { id: listId, class: "history", "aria-labelledby": headId, tabindex: "-1", hidden: true },
    h("div", { class: "row history-top" }, h("h3", { id: headId }, S.heading), startBtn),
    h("p", { class: "coach-intro" }, S.intro),
    status,
    list,
    moreBtn,
  );
  view.chatPanel.append(pane);

  let restored = false; // the stored conversation was fetched (once per page view)
  let identity = null; // pending request that gets this visitor a learner id
  let cursor = null;
  state.conversationId = readStored(cfg.api) || null;

  function showList(on) {
    pane.hidden = !on;
    view.chatPanel.classList.toggle("showing-history", on);
    toggle.setAttribute("aria-expanded", String(on));
    if (on) {
      load(true);
      pane.focus();
    }
  }

  // ------------------------------------------------------------------ who is asking
  /** The learner header for /v1/ask; a new visitor first gets an id from the list endpoint. */
  async function askHeaders() {
    if (!readLearner(cfg.api) && identity === null) {
      identity = w.coachFetch("/v1/conversations?limit=1"); // issues X-Learner-Id, never throws
    }
    if (identity) await identity;
    const learner = readLearner(cfg.api);
    return learner ? { [LEARNER_HEADER]: learner } : {};
  }

  // ------------------------------------------------------------------ turns of a conversation
  function render(conv) {
    const later = Array.from(log.children).filter((n) => n !== empty); // asked meanwhile
    const turns = Array.isArray(conv.turns) ? conv.turns : [];
    let n = 0;
    for (let i = 0; i < turns.length; i++) {
      if (turns[i].role !== "user") continue;
      const reply = turns[i + 1] && turns[i + 1].role === "assistant" ? turns[i + 1] : null;
      const turn = w.addTurn(String(turns[i].content || ""));
      w.finishTurn(turn, {
        answer: reply ? String(reply.content || "") : "",
        citations: reply && Array.isArray(reply.citations) ? reply.citations : [],
        conversation_id: conv.id,
      });
      n += 1;
    }
    log.append(...later); // questions asked while this loaded stay the newest
    return n;
  }

  async function fetchConversation(id) {
    return w.coachFetch(`/v1/conversations/${encodeURIComponent(id)}`);
  }

  /** On first open: the stored conversation's turns, so a reload keeps the chat. */
  async function restore() {
    const id = state.conversationId;
    if (restored) return;
    restored = true; // once per page view: a conversation begun here is already on screen
    if (!id) return;
    const res = await fetchConversation(id);
    if (state.conversationId !== id) return; // the reader moved on meanwhile
    if (res.ok) {
      announce(S.restored(render(res.data)));
    } else if (res.status === 404) {
      state.conversationId = null; // deleted, or kept by another service: start afresh
      writeStored(cfg.api, "");
    } else {
      restored = false;
      w.showBanner(S.restoreFailed, { retry: restore, kind: "history" });
    }
  }

  async function resume(conv) {
    if (state.controller) state.controller.abort();
    w.hideBanner();
    state.conversationId = conv.id;
    writeStored(cfg.api, conv.id);
    restored = true;
    log.replaceChildren(empty);
    showList(false);
    const res = await fetchConversation(conv.id);
    if (state.conversationId !== conv.id) return;
    if (!res.ok) {
      w.showBanner(res.status ? S.restoreFailed : res.message, { kind: "history" });
      return;
    }
    render(res.data);
    announce(S.resumed(String(conv.title || "")));
    view.input.focus();
  }

  // ------------------------------------------------------------------ export
  async function exportMarkdown(conv) {
    const res = await w.coachFetch(`/v1/conversations/${encodeURIComponent(conv.id)}/export?format=markdown`, {
      text: true,
    });
    if (!res.ok) {
      announce(S.exportFailed, true);
      status.textContent = S.exportFailed;
      return;
    }
    const url = URL.createObjectURL(new Blob([res.data], { type: "text/markdown" }));
    const link = h("a", { href: url, download: `conversation-${conv.id}.md`, hidden: true });
    root.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    announce(S.exported);
  }

  // ------------------------------------------------------------------ the list
  function item(conv) {
    const title = String(conv.title || "Untitled");
    const n = questions(conv);
    const current = conv.id === state.conversationId;
    return h(
      "li",
      { class: `history-item${current ? " current" : ""}`, "data-id": String(conv.id) },
      h(
        "button",
        { type: "button", class: "history-open", "aria-current": current ? "true" : null, onclick: () => resume(conv) },
        h("span", { class: "history-title" }, title),
        h("span", { class: "history-meta" }, `${n} question${n === 1 ? "" : "s"} · ${when(conv.updated_at)}`),
      ),
      h(
        "button",
        { type: "button", class: "ghost history-export", "aria-label": `Export “${title}” as Markdown`, onclick: () => exportMarkdown(conv) },
        "Export",
      ),
    );
  }

  async function load(fresh) {
    if (fresh) {
      cursor = null;
      list.replaceChildren();
    }
    status.textContent = S.loading;
    moreBtn.hidden = true;
    pane.setAttribute("aria-busy", "true");
    const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const res = await w.coachFetch(`/v1/conversations?limit=${PAGE}${query}`);
    pane.removeAttribute("aria-busy");
    if (!res.ok) {
      const text = res.status === 401 || res.status === 403 ? T.auth : res.status ? S.listFailed(res.status) : res.message;
      status.replaceChildren(errorBox(text, res.kind, () => load(fresh)));
      announce(text, true);
      return;
    }
    const rows = Array.isArray(res.data.conversations) ? res.data.conversations : [];
    list.append(...rows.map(item));
    cursor = res.data.next_cursor || null;
    moreBtn.hidden = !cursor;
    status.textContent = list.children.length ? "" : S.empty;
    announce(list.children.length ? `${list.children.length} conversations listed.` : S.empty);
  }

  toggle.addEventListener("click", () => showList(pane.hidden));
  moreBtn.addEventListener("click", () => load(false));
  startBtn.addEventListener("click", () => w.newConversation());

  // ------------------------------------------------------------------ hooks into the chat
  const baseNew = w.newConversation;
  const baseFinish = w.finishTurn;
  Object.assign(w, {
    newConversation() {
      writeStored(cfg.api, "");
      restored = true;
      showList(false);
      return baseNew();
    },
    finishTurn(turn, data) {
      baseFinish(turn, data);
      if (state.conversationId) writeStored(cfg.api, state.conversationId);
    },
    askHeaders,
    onOpen: restore,
  });
}
