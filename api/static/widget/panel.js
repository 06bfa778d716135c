/* Opening and closing the panel, the keyboard inside it, announcements and the banner. */

export function installPanel(w) {
  const { state } = w;
  const { host, shadow, root, launcher, closeBtn, panel, input, tip } = w.view;
  const { status, alertRegion, banner, bannerText, bannerAction } = w.view;
  const hideTip = (...args) => w.hideTip(...args);
  // The open view's first control (tabs.js); the question box before the tabs exist.
  const focusCurrent = () => (w.focusCurrent ? w.focusCurrent() : input.focus());

  function open() {
    if (state.open) {
      focusCurrent();
      return;
    }
    state.open = true;
    panel.setAttribute("aria-modal", isPhone() ? "true" : "false");
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.classList.add("open");
    host.setAttribute("data-state", "open");
    focusCurrent();
    if (w.onOpen) w.onOpen(); // history.js: bring back the stored conversation
  }

  function close() {
    if (!state.open) return;
    state.open = false;
    panel.hidden = true;
    hideTip(false);
    launcher.setAttribute("aria-expanded", "false");
    launcher.classList.remove("open");
    host.setAttribute("data-state", "closed");
    launcher.focus();
  }

  launcher.addEventListener("click", () => (state.open ? close() : open()));
  closeBtn.addEventListener("click", close);
  root.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!tip.hidden) {
      hideTip(false); // Escape first dismisses a passage tooltip (WCAG 1.4.13)
    } else if (state.open) close();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });

  // On a phone the panel covers the whole page, so it acts as a modal dialog: Tab wraps
  // inside it instead of wandering into the page hidden behind it.
  const phone = window.matchMedia ? window.matchMedia("(max-width: 480px)") : null;
  const isPhone = () => !!(phone && phone.matches);

  function tabbables() {
    return Array.from(panel.querySelectorAll("button, a[href], textarea, input, select, summary, [tabindex]")).filter(
      (el) => !el.disabled && el.getAttribute("tabindex") !== "-1" && el.getClientRects().length,
    );
  }

  root.addEventListener("keydown", (e) => {
    if (e.key !== "Tab" || !state.open || !isPhone()) return;
    const items = tabbables();
    if (!items.length) return;
    const active = shadow.activeElement;
    if (e.shiftKey && (active === items[0] || !panel.contains(active))) {
      e.preventDefault();
      items[items.length - 1].focus();
    } else if (!e.shiftKey && active === items[items.length - 1]) {
      e.preventDefault();
      items[0].focus();
    }
  });

  // ------------------------------------------------------------------ announcements
  function announce(text, urgent) {
    const region = urgent ? alertRegion : status;
    // Clear first so the same sentence twice is still announced.
    region.textContent = "";
    setTimeout(() => {
      region.textContent = text;
    }, 30);
  }

  function showBanner(text, opts) {
    opts = opts || {};
    bannerText.textContent = "";
    if (Array.isArray(text)) bannerText.append(...text);
    else bannerText.textContent = text;
    banner.classList.toggle("info", !!opts.info);
    banner.setAttribute("data-kind", opts.kind || "error");
    state.retry = opts.retry || null;
    bannerAction.hidden = !opts.retry;
    banner.hidden = false;
  }

  function hideBanner() {
    banner.hidden = true;
    banner.removeAttribute("data-kind");
    state.retry = null;
  }

  bannerAction.addEventListener("click", () => {
    const retry = state.retry;
    hideBanner();
    if (retry) retry();
  });

  Object.assign(w, { open, close, isPhone, announce, showBanner, hideBanner });
}
