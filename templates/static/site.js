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
  const STATE_KEYS = ["lang", "theme", "sort", "mode", "tags", "q", "inst"];
  const PREFIX = "hfdaily:"; // every file:// page shares one localStorage, so namespace the keys
  const MAX_TAGS = 30;
  const MAX_TAG_LEN = 60;
  const MAX_Q = 200;
  const MAX_INST = 200;

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
    inst: (params.get("inst") || "").slice(0, MAX_INST),
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

  const formatters = {}; // one Intl.DateTimeFormat per locale and style: a month page formats a thousand dates

  function formatTime(el) {
    const iso = el.getAttribute("datetime") || "";
    const day = iso.length === 7 ? iso + "-01" : iso.slice(0, 10);
    const date = new Date(day + "T00:00:00Z");
    const style = DATE_STYLES[el.dataset.fmt];
    if (isNaN(date.getTime()) || !style) return;
    try {
      const k = locale() + "|" + el.dataset.fmt;
      if (!formatters[k]) formatters[k] = new Intl.DateTimeFormat(locale(), Object.assign({ timeZone: "UTC" }, style));
      el.textContent = formatters[k].format(date);
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

  function applyLang(initial) {
    root.lang = state.lang;
    document.querySelectorAll(".lang-btn").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
    });
    updateRelative();
    // On load in the language the page is written in there is nothing to swap (a month page has thousands of
    // labelled elements: skipping them is most of its script time).
    if (initial && state.lang === root.dataset.defaultLang) return;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = tr(el.dataset.i18n, el.dataset.n); });
    document.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = tr(el.dataset.i18nTitle); });
    document.querySelectorAll("[data-i18n-aria]").forEach((el) => {
      el.setAttribute("aria-label", tr(el.dataset.i18nAria));
    });
    document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = tr(el.dataset.i18nPh); });
    document.querySelectorAll("time[data-fmt]").forEach(formatTime);
    document.querySelectorAll("[data-id]").forEach(applyPaperText);
    renderPins();
  }

  // ---- URL --------------------------------------------------------------------------------------------

  let isList = false; // a day or month page: cards with sort, filters, search, pins

  function updateUrl() {
    const p = new URLSearchParams(location.search);
    p.set("lang", state.lang);
    if (state.theme) p.set("theme", state.theme); else p.delete("theme");
    if (isList) {
      p.set("sort", state.sort);
      if (state.tags.length) {
        p.set("tags", state.tags.join(","));
        p.set("mode", state.mode);
      } else {
        p.delete("tags");
        p.delete("mode");
      }
      if (state.q) p.set("q", state.q); else p.delete("q");
      if (state.inst) p.set("inst", state.inst); else p.delete("inst");
    }
    try {
      history.replaceState(history.state, "", location.pathname + "?" + p.toString() + location.hash);
    } catch (e) { /* some browsers refuse for file:// URLs; storage still keeps the view */ }
  }

  // ---- reader's marks: read papers and pins (localStorage only; no backend) ----------------------------

  const MAX_READ = 5000;
  const MAX_PINS = 50;
  const PIN_KINDS = ["kw", "author", "inst"];

  function loadJson(name, fallback) {
    try {
      const value = JSON.parse(store.get(name) || "null");
      return value === null ? fallback : value;
    } catch (e) {
      return fallback;
    }
  }

  const marks = {
    read: new Set((Array.isArray(loadJson("read", [])) ? loadJson("read", []) : []).map(String).slice(-MAX_READ)),
    pins: (Array.isArray(loadJson("pins", [])) ? loadJson("pins", []) : [])
      .filter((p) => p && PIN_KINDS.includes(p.k) && typeof p.v === "string" && p.v.trim())
      .map((p) => ({ k: p.k, v: p.v.trim().slice(0, 80) }))
      .slice(0, MAX_PINS),
    hideRead: store.get("hide_read") === "1",
    saveRead() { store.set("read", JSON.stringify(Array.from(this.read).slice(-MAX_READ))); },
    savePins() { store.set("pins", JSON.stringify(this.pins)); },
  };

  // ---- day and month pages: sort, filter, search, pins -----------------------------------------------

  const list = { box: null, cards: [], order: [], chips: null, search: null, shown: null, empty: null, inst: null };

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

  function everyText(p) {
    // What a keyword pin looks at: the paper's text in every language, whichever one is shown.
    if (p.every === undefined) {
      const parts = [p.ot, p.ab, (p.tags || []).join(" ")];
      for (const lang of LANGS) {
        if (p.t && p.t[lang]) parts.push(p.t[lang]);
        if (p.d && p.d[lang]) parts.push(p.d[lang]);
      }
      p.every = fold(parts.join(" \u0001 "));
    }
    return p.every;
  }

  function pinned(p) {
    for (const pin of marks.pins) {
      const v = fold(pin.v);
      if (pin.k === "kw" && everyText(p).includes(v)) return true;
      if (pin.k === "author" && fold(p.au).includes(v)) return true;
      if (pin.k === "inst" && (fold(p.af).includes(v) || (p.inst || []).some((n) => fold(n).includes(v)))) return true;
    }
    return false;
  }

  // ISO dates compare as plain strings (no locale rules needed, and far cheaper than localeCompare).
  const order = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  const COMPARE = {
    upvotes: (a, b) => (b.up || 0) - (a.up || 0) || order(b.day || "", a.day || "") || (a.rank || 0) - (b.rank || 0),
    date: (a, b) => order(b.pub || "", a.pub || "") || COMPARE.upvotes(a, b),
    rank: (a, b) => order(a.day || "", b.day || "") || (a.rank || 0) - (b.rank || 0),
  };

  function matches(p, terms) {
    const tags = p.tags || [];
    const has = (t) => tags.includes(t);
    const tagOk = !state.tags.length || (state.mode === "and" ? state.tags.every(has) : state.tags.some(has));
    if (!tagOk) return false;
    if (state.inst && !(p.inst || []).includes(state.inst)) return false;
    if (marks.hideRead && marks.read.has(String(p.id))) return false;
    if (!terms.length) return true;
    const hay = haystack(p);
    return terms.every((term) => hay.includes(term));
  }

  // A month has 600+ cards: the view works on plain objects (one per card, made once) and touches the DOM only
  // where something changes; a new order is one fragment insertion.
  function items() {
    if (!list.items) {
      list.items = list.cards.map((card) => ({
        card: card, id: card.dataset.id, p: papers.get(card.dataset.id) || {}, hidden: card.hidden,
        pin: false, read: false, tags: null,
      }));
    }
    return list.items;
  }

  function tagButtons(item) {
    if (!item.tags) item.tags = Array.from(item.card.querySelectorAll(".tag[data-tag]"));
    return item.tags;
  }

  function applyView() {
    const all = items();
    const pinsOn = marks.pins.length > 0;
    for (const it of all) it.pinNow = pinsOn && pinned(it.p);
    const compare = COMPARE[state.sort];
    const sorted = all.slice().sort((a, b) => (b.pinNow - a.pinNow) || compare(a.p, b.p));
    if (sorted.some((it, i) => it !== list.order[i])) {
      // One call for the new order; moved cards keep their state (open descriptions). DOM order, not CSS `order`,
      // so keyboard and screen-reader order follow what is seen.
      list.box.replaceChildren(...sorted.map((it) => it.card));
      list.order = sorted;
    }
    const terms = fold(state.q).split(/\s+/).filter(Boolean);
    const selected = new Set(state.tags);
    const before = list.selected || new Set();
    const changedTags = new Set([...selected].filter((t) => !before.has(t)).concat([...before].filter((t) => !selected.has(t))));
    list.selected = selected;
    let shown = 0;
    for (const it of all) {
      const hide = !matches(it.p, terms);
      if (it.hidden !== hide) { it.card.hidden = hide; it.hidden = hide; }
      if (!hide) shown += 1;
      if (it.pin !== it.pinNow) {
        it.pin = it.pinNow;
        it.card.classList.toggle("is-pinned", it.pin);
        const badge = it.card.querySelector(".badge-pin");
        if (badge) badge.hidden = !it.pin;
      }
      const read = marks.read.has(it.id);
      if (it.read !== read) {
        it.read = read;
        it.card.classList.toggle("is-read", read);
        const btn = it.card.querySelector(".read-btn");
        if (btn) btn.setAttribute("aria-pressed", String(read));
      }
      if (changedTags.size && (it.p.tags || []).some((t) => changedTags.has(t))) {
        for (const b of tagButtons(it)) b.setAttribute("aria-pressed", String(selected.has(b.dataset.tag)));
      }
    }
    document.querySelectorAll(".chip[data-tag]").forEach((b) => {
      const on = String(selected.has(b.dataset.tag));
      if (b.getAttribute("aria-pressed") !== on) b.setAttribute("aria-pressed", on);
    });
    if (list.inst && list.inst.value !== state.inst) list.inst.value = state.inst;
    if (list.shown) {
      list.shown.textContent = tr("shown").split("{n}").join(shown).split("{total}").join(list.cards.length);
    }
    if (list.empty) list.empty.hidden = shown > 0 || list.cards.length === 0;
  }

  // "more" is shown only where the clamped description overflows; measured when a card comes into view, so
  // a month of 600 cards costs no layout of the cards nobody scrolled to.
  let clampWatch = null;

  function measureClamp(card) {
    const desc = card.querySelector(".desc");
    const more = card.querySelector(".more");
    if (!desc || !more) return;
    more.hidden = !desc.classList.contains("open") && desc.scrollHeight <= desc.clientHeight + 2;
  }

  function refreshClamps() {
    if (!clampWatch) {
      list.cards.forEach(measureClamp);
      return;
    }
    list.cards.forEach((card) => { clampWatch.unobserve(card); clampWatch.observe(card); });
  }

  function setupClamps() {
    if (!("IntersectionObserver" in window)) return refreshClamps();
    clampWatch = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        measureClamp(entry.target);
        clampWatch.unobserve(entry.target);
      }
    }, { rootMargin: "200px 0px" });
    refreshClamps();
  }

  function save() {
    store.set("sort", state.sort);
    store.set("mode", state.mode);
    store.set("tags", state.tags.join(","));
    updateUrl();
  }

  function ensureChip(tag) {
    // A tag from the URL or storage that this page lacks still gets a chip, so it can be seen and cleared.
    if (!list.chips) return;
    const exists = Array.from(list.chips.querySelectorAll(".chip")).some((b) => b.dataset.tag === tag);
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
    list.chips.appendChild(b);
  }

  function toggleTag(tag) {
    const i = state.tags.indexOf(tag);
    if (i >= 0) state.tags.splice(i, 1);
    else if (state.tags.length < MAX_TAGS) state.tags.push(tag);
    ensureChip(tag);
    applyView();
    save();
  }

  function setInstitution(name) {
    state.inst = name.slice(0, MAX_INST);
    if (list.inst && state.inst && !Array.from(list.inst.options).some((o) => o.value === state.inst)) {
      const option = document.createElement("option"); // from the URL, absent from this page: still clearable
      option.value = state.inst;
      option.textContent = state.inst + " (0)";
      list.inst.appendChild(option);
    }
    applyView();
    updateUrl();
  }

  function toggleOpen(button, target, openKey, closedKey) {
    const open = !target.classList.contains("open");
    target.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    button.dataset.i18n = open ? openKey : closedKey;
    button.textContent = tr(button.dataset.i18n, button.dataset.n);
  }

  function toggleRead(card) {
    const id = card.dataset.id;
    if (marks.read.has(id)) marks.read.delete(id); else marks.read.add(id);
    marks.saveRead();
    applyView();
  }

  function onCardsClick(event) {
    const el = event.target instanceof Element ? event.target : null;
    if (!el) return;
    const tag = el.closest(".tag[data-tag]");
    if (tag) return toggleTag(tag.dataset.tag);
    const card = el.closest(".card");
    if (!card) return;
    if (el.closest(".read-btn")) return toggleRead(card);
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

  function renderPins() {
    const box = document.getElementById("pin-list");
    const count = document.getElementById("pins-n");
    if (count) count.textContent = marks.pins.length ? String(marks.pins.length) : "";
    if (!box) return;
    box.textContent = "";
    marks.pins.forEach((pin, i) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "chip pin-chip";
      b.dataset.index = String(i);
      b.title = tr("pin_remove");
      b.setAttribute("aria-label", tr("pin_remove") + ": " + tr("pin_" + pin.k) + " " + pin.v);
      b.textContent = tr("pin_" + pin.k) + ": " + pin.v + " ×";
      li.appendChild(b);
      box.appendChild(li);
    });
  }

  function setupPins() {
    const add = document.getElementById("pin-add");
    const text = document.getElementById("pin-text");
    const kind = document.getElementById("pin-kind");
    const box = document.getElementById("pin-list");
    const hide = document.getElementById("hide-read");
    const addPin = () => {
      const v = (text.value || "").trim().slice(0, 80);
      const k = PIN_KINDS.includes(kind.value) ? kind.value : "kw";
      if (!v || marks.pins.some((p) => p.k === k && fold(p.v) === fold(v)) || marks.pins.length >= MAX_PINS) return;
      marks.pins.push({ k: k, v: v });
      marks.savePins();
      text.value = "";
      renderPins();
      applyView();
    };
    if (add && text && kind) {
      add.addEventListener("click", addPin);
      text.addEventListener("keydown", (event) => {
        if (event.key === "Enter") { event.preventDefault(); addPin(); }
      });
    }
    if (box) {
      box.addEventListener("click", (event) => {
        const b = event.target instanceof Element ? event.target.closest(".pin-chip") : null;
        if (!b) return;
        marks.pins.splice(Number(b.dataset.index), 1);
        marks.savePins();
        renderPins();
        applyView();
      });
    }
    if (hide) {
      hide.checked = marks.hideRead;
      hide.addEventListener("change", () => {
        marks.hideRead = hide.checked;
        store.set("hide_read", hide.checked ? "1" : "");
        applyView();
      });
    }
    renderPins();
  }

  function setupBoard() {
    const board = document.getElementById("institutions");
    if (!board) return;
    board.addEventListener("click", (event) => {
      const el = event.target instanceof Element ? event.target : null;
      const inst = el && el.closest(".inst-btn");
      if (inst) {
        setInstitution(inst.dataset.inst === state.inst ? "" : inst.dataset.inst);
        const target = list.search || list.box;
        if (target && target.scrollIntoView) target.scrollIntoView({ block: "start" });
        return;
      }
      const all = el && el.closest("#board-all");
      if (all) {
        const open = !board.classList.contains("open");
        board.classList.toggle("open", open);
        all.setAttribute("aria-expanded", String(open));
        all.dataset.i18n = open ? "board_less" : "board_all";
        all.textContent = tr(all.dataset.i18n, all.dataset.n);
      }
    });
  }

  function setupList() {
    list.box = document.getElementById("cards");
    if (!list.box) return;
    isList = true;
    list.cards = Array.from(list.box.querySelectorAll(".card"));
    list.order = items().slice();
    list.chips = document.getElementById("chips");
    list.search = document.getElementById("q");
    list.shown = document.getElementById("shown");
    list.empty = document.getElementById("empty");
    list.inst = document.getElementById("inst");
    const sort = document.getElementById("sort");
    state.tags.forEach(ensureChip);
    if (state.inst) setInstitution(state.inst);

    if (sort) {
      sort.value = state.sort;
      sort.addEventListener("change", () => {
        if (SORTS.includes(sort.value)) state.sort = sort.value;
        applyView();
        save();
      });
    }
    if (list.inst) {
      list.inst.addEventListener("change", () => setInstitution(list.inst.value));
    }
    document.querySelectorAll('input[name="mode"]').forEach((radio) => {
      radio.checked = radio.value === state.mode;
      radio.addEventListener("change", () => {
        if (radio.checked && MODES.includes(radio.value)) state.mode = radio.value;
        applyView();
        save();
      });
    });
    if (list.search) {
      list.search.value = state.q;
      list.search.addEventListener("input", () => {
        state.q = list.search.value.slice(0, MAX_Q);
        applyView();
        updateUrl();
      });
    }
    if (list.chips) {
      list.chips.addEventListener("click", (event) => {
        const chip = event.target instanceof Element ? event.target.closest(".chip[data-tag]") : null;
        if (chip) toggleTag(chip.dataset.tag);
      });
    }
    const clear = document.getElementById("clear");
    if (clear) {
      clear.addEventListener("click", () => {
        state.tags = [];
        state.q = "";
        state.inst = "";
        if (list.search) list.search.value = "";
        applyView();
        save();
      });
    }
    list.box.addEventListener("click", onCardsClick);
    setupPins();
    setupBoard();
    document.addEventListener("keydown", (event) => {
      // "/" jumps to the search box, as on many reading sites.
      const typing = event.target instanceof Element && event.target.closest("input, select, textarea");
      if (event.key === "/" && !typing && list.search && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        list.search.focus();
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
        applyLang(false);
        if (isList) {
          applyView();
          refreshClamps();
        }
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
    if (data.kind === "day" || data.kind === "month") setupList();
    if (data.kind === "zh") setupZh();
    applyLang(true);
    if (isList) {
      applyView();
      setupClamps();
    }
    updateUrl();
    setInterval(updateRelative, 60 * 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
