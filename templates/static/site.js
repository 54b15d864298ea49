/* hfdaily site script: theme and language on every page; sorting, topic filters and search on day pages.
 *
 * Works from file:// and under a CSP without 'unsafe-inline': no inline handlers, no eval, no fetch.
 * Page data comes from <script type="application/json" id="page-data">; text from it only ever reaches the
 * DOM through textContent / attributes, never innerHTML.
 *
 * Loaded synchronously in <head> so the theme is applied before the first paint; the rest waits for the DOM.
 */
(function () {
  "use strict";

  const LANGS = ["ru", "en", "zh"];
  const SORTS = ["upvotes", "date", "rank"];
  const MODES = ["or", "and"];
  const THEMES = ["light", "dark"];
  const STATE_KEYS = ["lang", "theme", "sort", "mode", "tags", "q"];
  const PREFIX = "hfdaily:"; // every file:// page shares one localStorage, so namespace the keys
  const MAX_TAGS = 30;
  const MAX_TAG_LEN = 60;
  const MAX_Q = 200;

  const I18N = window.HFD_I18N || {};
  const root = document.documentElement;
  const params = new URLSearchParams(location.search);
  // A URL that carries view state is authoritative: a shared link must not mix with the reader's storage.
  const urlHasState = STATE_KEYS.some((k) => params.has(k));
  const systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  const store = {
    get(name) {
      try { return localStorage.getItem(PREFIX + name); } catch (e) { return null; }
    },
    set(name, value) {
      try {
        if (value === null || value === "") localStorage.removeItem(PREFIX + name);
        else localStorage.setItem(PREFIX + name, value);
      } catch (e) { /* storage disabled or full: the URL still carries the state */ }
    },
  };

  function pick(name, allowed, fallback) {
    const fromUrl = params.get(name);
    if (allowed.includes(fromUrl)) return fromUrl;
    if (urlHasState && name !== "theme" && name !== "lang") return fallback;
    const stored = store.get(name);
    return allowed.includes(stored) ? stored : fallback;
  }

  function navigatorLang() {
    const list = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (const tag of list) {
      const base = String(tag || "").toLowerCase().slice(0, 2);
      if (LANGS.includes(base)) return base;
    }
    return LANGS.includes(root.dataset.defaultLang) ? root.dataset.defaultLang : "en";
  }

  function cleanTags(raw) {
    if (!raw) return [];
    const tags = raw.split(",").map((s) => s.trim()).filter((s) => s && s.length <= MAX_TAG_LEN);
    return Array.from(new Set(tags)).slice(0, MAX_TAGS);
  }

  const state = {
    theme: pick("theme", THEMES, null), // null: follow the system
    lang: pick("lang", LANGS, null) || navigatorLang(),
    sort: pick("sort", SORTS, "upvotes"),
    mode: pick("mode", MODES, "or"),
    tags: cleanTags(params.has("tags") || urlHasState ? params.get("tags") : store.get("tags")),
    q: (params.get("q") || "").slice(0, MAX_Q),
  };

  // ---- theme (runs before first paint) -------------------------------------------------------------------

  function effectiveTheme() {
    return state.theme || (systemDark && systemDark.matches ? "dark" : "light");
  }

  function applyTheme() {
    if (state.theme) root.dataset.theme = state.theme;
    else delete root.dataset.theme; // the stylesheet follows prefers-color-scheme
    const toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.setAttribute("aria-pressed", String(effectiveTheme() === "dark"));
  }

  root.classList.remove("no-js");
  root.classList.add("js");
  applyTheme();

  // ---- language ----------------------------------------------------------------------------------------

  let papers = new Map();

  function tr(key, n) {
    const entry = I18N[key];
    const text = entry ? entry[state.lang] || entry.en || key : key;
    return n === undefined ? text : text.split("{n}").join(String(n));
  }

  function locale() {
    return state.lang === "zh" ? "zh-CN" : state.lang;
  }

  const DATE_STYLES = {
    long: { year: "numeric", month: "long", day: "numeric" },
    short: { year: "numeric", month: "short", day: "numeric" },
    month: { year: "numeric", month: "long" },
  };

  function formatTime(el) {
    const iso = el.getAttribute("datetime") || "";
    const day = iso.length === 7 ? iso + "-01" : iso.slice(0, 10);
    const date = new Date(day + "T00:00:00Z");
    const style = DATE_STYLES[el.dataset.fmt];
    if (isNaN(date.getTime()) || !style) return;
    try {
      el.textContent = new Intl.DateTimeFormat(locale(), Object.assign({ timeZone: "UTC" }, style)).format(date);
    } catch (e) { /* keep the server-rendered date */ }
  }

  function relative(then) {
    const secs = Math.round((then - Date.now()) / 1000);
    const abs = Math.abs(secs);
    const steps = [[60, 1, "second"], [3600, 60, "minute"], [86400, 3600, "hour"],
      [86400 * 30, 86400, "day"], [86400 * 365, 86400 * 30, "month"], [Infinity, 86400 * 365, "year"]];
    const [, size, unit] = steps.find(([limit]) => abs < limit);
    try {
      return new Intl.RelativeTimeFormat(locale(), { numeric: "auto" }).format(Math.round(secs / size), unit);
    } catch (e) {
      return new Date(then).toISOString().slice(0, 16).replace("T", " ") + " UTC";
    }
  }

  function updateRelative() {
    const el = document.getElementById("updated");
    if (!el) return;
    const then = Date.parse(el.getAttribute("datetime"));
    if (isNaN(then)) return;
    el.textContent = tr("updated").split("{ago}").join(relative(then));
    el.title = new Date(then).toLocaleString(locale());
  }

  function paperText(p) {
    const has = Boolean(p.t && Object.prototype.hasOwnProperty.call(p.t, state.lang));
    return {
      has: has,
      title: has ? p.t[state.lang] : p.ot || "",
      desc: p.d ? (has ? p.d[state.lang] : p.ab || "") : null,
    };
  }

  function applyPaperText(el) {
    const p = papers.get(el.dataset.id);
    if (!p) return;
    const text = paperText(p);
    const set = (field, fn) => el.querySelectorAll('[data-f="' + field + '"]').forEach(fn);
    set("title", (node) => { node.textContent = text.title; });
    if (text.desc !== null) set("desc", (node) => { node.textContent = text.desc; });
    set("orig", (node) => { node.hidden = !text.has; });
    set("pending", (node) => { node.hidden = text.has; });
  }

  function applyLang() {
    root.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = tr(el.dataset.i18n, el.dataset.n); });
    document.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = tr(el.dataset.i18nTitle); });
    document.querySelectorAll("[data-i18n-aria]").forEach((el) => {
      el.setAttribute("aria-label", tr(el.dataset.i18nAria));
    });
    document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = tr(el.dataset.i18nPh); });
    document.querySelectorAll("time[data-fmt]").forEach(formatTime);
    document.querySelectorAll("[data-id]").forEach(applyPaperText);
    document.querySelectorAll(".lang-btn").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
    });
    updateRelative();
  }

  // ---- URL --------------------------------------------------------------------------------------------

  let isDay = false;

  function updateUrl() {
    const p = new URLSearchParams(location.search);
    p.set("lang", state.lang);
    if (state.theme) p.set("theme", state.theme); else p.delete("theme");
    if (isDay) {
      p.set("sort", state.sort);
      if (state.tags.length) {
        p.set("tags", state.tags.join(","));
        p.set("mode", state.mode);
      } else {
        p.delete("tags");
        p.delete("mode");
      }
      if (state.q) p.set("q", state.q); else p.delete("q");
    }
    try {
      history.replaceState(history.state, "", location.pathname + "?" + p.toString() + location.hash);
    } catch (e) { /* some browsers refuse for file:// URLs; storage still keeps the view */ }
  }

  // ---- day page: sort, filter, search ----------------------------------------------------------------

  const day = { box: null, cards: [], chips: null, search: null, shown: null, empty: null };

  function fold(s) {
    // Case- and accent-insensitive matching ("Jose" finds "José").
    return String(s || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function haystack(p) {
    p.hay = p.hay || {};
    if (!p.hay[state.lang]) {
      const text = paperText(p);
      p.hay[state.lang] = fold([text.title, text.desc, p.ot, p.au, p.af].join(" \u0001 "));
    }
    return p.hay[state.lang];
  }

  const COMPARE = {
    upvotes: (a, b) => (b.up || 0) - (a.up || 0) || (a.rank || 0) - (b.rank || 0),
    date: (a, b) => String(b.pub || "").localeCompare(String(a.pub || "")) || COMPARE.upvotes(a, b),
    rank: (a, b) => (a.rank || 0) - (b.rank || 0),
  };

  function matches(p, terms) {
    const tags = p.tags || [];
    const has = (t) => tags.includes(t);
    const tagOk = !state.tags.length || (state.mode === "and" ? state.tags.every(has) : state.tags.some(has));
    if (!tagOk) return false;
    const hay = haystack(p);
    return terms.every((term) => hay.includes(term));
  }

  function applyView() {
    const info = (card) => papers.get(card.dataset.id) || {};
    const sorted = day.cards.slice().sort((a, b) => COMPARE[state.sort](info(a), info(b)));
    sorted.forEach((card) => day.box.appendChild(card)); // moving nodes keeps their expanded state
    const terms = fold(state.q).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const card of day.cards) {
      card.hidden = !matches(info(card), terms);
      if (!card.hidden) shown += 1;
    }
    const selected = new Set(state.tags);
    document.querySelectorAll(".chip[data-tag], .tag[data-tag]").forEach((b) => {
      b.setAttribute("aria-pressed", String(selected.has(b.dataset.tag)));
    });
    if (day.shown) {
      day.shown.textContent = tr("shown").split("{n}").join(shown).split("{total}").join(day.cards.length);
    }
    if (day.empty) day.empty.hidden = shown > 0 || day.cards.length === 0;
    refreshClamps();
  }

  function refreshClamps() {
    // Show "more" only where the clamped description actually overflows.
    for (const card of day.cards) {
      if (card.hidden) continue;
      const desc = card.querySelector(".desc");
      const more = card.querySelector(".more");
      if (!desc || !more) continue;
      more.hidden = !desc.classList.contains("open") && desc.scrollHeight <= desc.clientHeight + 2;
    }
  }

  function save() {
    store.set("sort", state.sort);
    store.set("mode", state.mode);
    store.set("tags", state.tags.join(","));
    updateUrl();
  }

  function ensureChip(tag) {
    // A tag from the URL or storage that this day lacks still gets a chip, so it can be seen and cleared.
    if (!day.chips) return;
    const exists = Array.from(day.chips.querySelectorAll(".chip")).some((b) => b.dataset.tag === tag);
    if (exists) return;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip chip-absent";
    b.dataset.tag = tag;
    b.textContent = "#" + tag.toLowerCase() + " ";
    const n = document.createElement("span");
    n.className = "chip-n";
    n.textContent = "0";
    b.appendChild(n);
    day.chips.appendChild(b);
  }

  function toggleTag(tag) {
    const i = state.tags.indexOf(tag);
    if (i >= 0) state.tags.splice(i, 1);
    else if (state.tags.length < MAX_TAGS) state.tags.push(tag);
    ensureChip(tag);
    applyView();
    save();
  }

  function toggleOpen(button, target, openKey, closedKey) {
    const open = !target.classList.contains("open");
    target.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    button.dataset.i18n = open ? openKey : closedKey;
    button.textContent = tr(button.dataset.i18n, button.dataset.n);
  }

  function onCardsClick(event) {
    const el = event.target instanceof Element ? event.target : null;
    if (!el) return;
    const tag = el.closest(".tag[data-tag]");
    if (tag) return toggleTag(tag.dataset.tag);
    const card = el.closest(".card");
    if (!card) return;
    const more = el.closest(".more");
    const desc = card.querySelector(".desc");
    // A click on the description text toggles it too, unless the reader is selecting text.
    const onDesc = el.closest(".desc") && !String(window.getSelection ? window.getSelection() : "");
    if ((more || onDesc) && desc) return toggleOpen(card.querySelector(".more"), desc, "less", "more");
    const rest = el.closest(".rest-toggle");
    if (rest) {
      const target = document.getElementById(rest.getAttribute("aria-controls"));
      if (target) toggleOpen(rest, target, "less", "more_n");
    }
  }

  function setupDay() {
    day.box = document.getElementById("cards");
    if (!day.box) return;
    isDay = true;
    day.cards = Array.from(day.box.querySelectorAll(".card"));
    day.chips = document.getElementById("chips");
    day.search = document.getElementById("q");
    day.shown = document.getElementById("shown");
    day.empty = document.getElementById("empty");
    const sort = document.getElementById("sort");
    state.tags.forEach(ensureChip);

    if (sort) {
      sort.value = state.sort;
      sort.addEventListener("change", () => {
        if (SORTS.includes(sort.value)) state.sort = sort.value;
        applyView();
        save();
      });
    }
    document.querySelectorAll('input[name="mode"]').forEach((radio) => {
      radio.checked = radio.value === state.mode;
      radio.addEventListener("change", () => {
        if (radio.checked && MODES.includes(radio.value)) state.mode = radio.value;
        applyView();
        save();
      });
    });
    if (day.search) {
      day.search.value = state.q;
      day.search.addEventListener("input", () => {
        state.q = day.search.value.slice(0, MAX_Q);
        applyView();
        updateUrl();
      });
    }
    if (day.chips) {
      day.chips.addEventListener("click", (event) => {
        const chip = event.target instanceof Element ? event.target.closest(".chip[data-tag]") : null;
        if (chip) toggleTag(chip.dataset.tag);
      });
    }
    const clear = document.getElementById("clear");
    if (clear) {
      clear.addEventListener("click", () => {
        state.tags = [];
        state.q = "";
        if (day.search) day.search.value = "";
        applyView();
        save();
      });
    }
    day.box.addEventListener("click", onCardsClick);
    document.addEventListener("keydown", (event) => {
      // "/" jumps to the search box, as on many reading sites.
      const typing = event.target instanceof Element && event.target.closest("input, select, textarea");
      if (event.key === "/" && !typing && day.search && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        day.search.focus();
      }
    });
    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(refreshClamps, 150);
    });
  }

  // ---- zh page: pinyin / translation toggles ------------------------------------------------------------

  function setupZh() {
    const reading = document.getElementById("reading");
    const toggles = [["show-pinyin", "hide-py", "zh_pinyin", "1"], ["show-trans", "hide-tr", "zh_trans", "0"]];
    for (const [id, cls, key, initial] of toggles) {
      const box = document.getElementById(id);
      if (!box || !reading) continue;
      box.checked = (store.get(key) || initial) === "1";
      reading.classList.toggle(cls, !box.checked);
      box.addEventListener("change", () => {
        reading.classList.toggle(cls, !box.checked);
        store.set(key, box.checked ? "1" : "0");
      });
    }
  }

  // ---- wiring --------------------------------------------------------------------------------------------

  function setupPrefs() {
    document.querySelectorAll(".lang-btn").forEach((b) => {
      b.addEventListener("click", () => {
        if (!LANGS.includes(b.dataset.lang)) return;
        state.lang = b.dataset.lang;
        store.set("lang", state.lang);
        applyLang();
        if (isDay) applyView();
        updateUrl();
      });
    });
    const toggle = document.getElementById("theme-toggle");
    if (toggle) {
      toggle.addEventListener("click", () => {
        state.theme = effectiveTheme() === "dark" ? "light" : "dark";
        store.set("theme", state.theme);
        applyTheme();
        updateUrl();
      });
    }
    if (systemDark && systemDark.addEventListener) {
      systemDark.addEventListener("change", applyTheme);
    }
  }

  function readData() {
    const el = document.getElementById("page-data");
    try {
      const data = JSON.parse(el ? el.textContent : "null");
      return data && typeof data === "object" ? data : {};
    } catch (e) {
      return {};
    }
  }

  function init() {
    const data = readData();
    papers = new Map((Array.isArray(data.papers) ? data.papers : []).map((p) => [String(p.id), p]));
    applyTheme(); // the toggle button exists now
    setupPrefs();
    if (data.kind === "day") setupDay();
    if (data.kind === "zh") setupZh();
    applyLang();
    if (isDay) applyView();
    updateUrl();
    setInterval(updateRelative, 60 * 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
