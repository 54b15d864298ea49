/* hfdaily archive search: the search page's client for the Pagefind bundles of tasks/site/search.py.
 *
 * One bundle per month (page data `bundles`, newest first): the newest is the primary index, the others are
 * merged into it. One Pagefind instance per language: the page's own first, the others after the first search
 * or a pause (`warmOthers`), or at once when the reader searches in them first. Pagefind fetches its chunks and
 * runs WebAssembly, which this page's CSP allows ('wasm-unsafe-eval', connect-src 'self') and no other page's does.
 * Over file:// the browser refuses the module and its fetches: the page then says so, and the rest of the site
 * is unaffected.
 *
 * Results are data: titles, dates and excerpts reach the DOM as text nodes only (the excerpt's <mark> pairs are
 * the one structure kept, rebuilt as elements); a result's link must have the shape of a day page link.
 */
(function () {
  "use strict";

  const LANGS = ["ru", "en", "zh"];
  const PAGE = 10; // results whose details (one fetch each) load at once; "show more" loads the next ones
  const DEBOUNCE_MS = 120;
  const WARM_AFTER_MS = 2000; // with no search by then, the other languages' indexes load anyway
  const LINK = /(?:^|\/)(d\/\d{4}-\d{2}-\d{2}\.html(?:\?lang=(?:ru|en|zh))?#p-[A-Za-z0-9._-]+)$/;
  const ENTITIES = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'", "&#x27;": "'" };

  const root = document.documentElement;
  const el = {};
  const engine = { module: null, instances: {}, bundles: [], failed: false };
  const view = { query: "", results: [], shown: 0, seq: 0 };
  // Read by the tests and the benchmark. `loaded`: the languages whose indexes are ready, in the order they got
  // so; `loadedAt`: when each did (ms since the page's navigation began); `warmedBy`: what started the others.
  window.hfdSearch = {
    state: "idle", lastMs: null, typedMs: null, loadMs: null, matched: 0, loaded: [], loadedAt: {}, warmedBy: null,
  };
  let typedAt = null; // when the text last changed: `typedMs` is what the reader waits, the pause included

  function tr(key, n) {
    const entry = (window.HFD_I18N || {})[key];
    const lang = LANGS.includes(root.lang) ? root.lang : "en";
    const text = entry ? entry[lang] || entry.en || key : key;
    return n === undefined ? text : text.split("{n}").join(String(n));
  }

  function setState(state, key, n) {
    window.hfdSearch.state = state;
    el.results.dataset.state = state;
    el.status.dataset.i18n = key || "";
    el.status.dataset.n = n === undefined ? "" : String(n);
    el.status.textContent = key ? tr(key, n) : "";
  }

  function unavailable(reason) {
    engine.failed = true;
    el.unavailable.hidden = false;
    el.input.disabled = true;
    el.scope.disabled = true;
    setState("unavailable", "");
    if (window.console && reason) console.info("hfdaily search unavailable:", String(reason));
  }

  function load() {
    if (!engine.module) {
      const started = performance.now();
      engine.module = import(new URL(engine.bundles[0] + "pagefind.js", location.href).href).then((module) => {
        window.hfdSearch.loadMs = performance.now() - started;
        return module;
      });
    }
    return engine.module;
  }

  function instance(lang) {
    // The promise is kept, so two searches that start together share one instance.
    if (!engine.instances[lang]) engine.instances[lang] = create(lang);
    return engine.instances[lang];
  }

  async function create(lang) {
    const module = await load();
    // Pagefind picks an instance's language from <html lang> when it is created: set it for that moment only.
    const shown = root.lang;
    root.lang = lang;
    let pf;
    try {
      // noWorker: Pagefind's web worker runs the month indexes' searches one after the other and copies every
      // result back to this page; a broad word matches thousands. On the page itself a broad word's search takes
      // about half as long (docs/benchmarks.md), at the price of one busy stretch of 100-160 ms while the
      // reader waits for its results anyway.
      pf = module.createInstance({ basePath: new URL(engine.bundles[0], location.href).href, noWorker: true });
    } finally {
      root.lang = shown;
    }
    // The merges go out together: each waits on its own fetches only, and the instance keeps them in call order.
    await Promise.all([pf.init(), ...engine.bundles.slice(1).map(
      (bundle) => pf.mergeIndex(new URL(bundle, location.href).href, { language: lang }))]);
    window.hfdSearch.loaded.push(lang);
    window.hfdSearch.loadedAt[lang] = performance.now();
    return pf;
  }

  function warmOthers(reason) {
    // The other languages' indexes (on a year's archive about 45 KB of metadata and a 70 KB WebAssembly engine
    // each) load once the reader's first search has its results (they read them meanwhile), or after a pause
    // without a search: a reader who switches language finds them loaded, and the first search, which the
    // reader waits for with nothing on screen yet, never shares the page's engine time with them.
    if (window.hfdSearch.warmedBy || engine.failed) return;
    window.hfdSearch.warmedBy = reason;
    const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 50));
    idle(() => { for (const lang of LANGS) instance(lang).catch(() => {}); });
  }

  function languages() {
    return el.scope.value === "all" ? LANGS : [LANGS.includes(root.lang) ? root.lang : "en"];
  }

  function excerptNodes(excerpt) {
    const frag = document.createDocumentFragment();
    let mark = null;
    for (const part of String(excerpt || "").split(/(<mark>|<\/mark>)/)) {
      if (part === "<mark>") { mark = document.createElement("mark"); continue; }
      if (part === "</mark>") { if (mark) frag.appendChild(mark); mark = null; continue; }
      const text = document.createTextNode(part.replace(/&(?:lt|gt|amp|quot|#39|#x27);/g, (e) => ENTITIES[e]));
      (mark || frag).appendChild(text);
    }
    if (mark) frag.appendChild(mark);
    return frag;
  }

  function resultItem(data) {
    const meta = data.meta || {};
    const match = LINK.exec(String(data.url || ""));
    if (!match) return null; // not a link this site makes: never shown
    const li = document.createElement("li");
    li.className = "result";
    const head = document.createElement("div");
    head.className = "result-head";
    const icon = document.createElement("span");
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = String(meta.emoji || "");
    const a = document.createElement("a");
    a.className = "result-title";
    a.href = match[1];
    a.textContent = String(meta.title || meta.id || "");
    const info = document.createElement("span");
    info.className = "result-meta";
    info.textContent = [meta.date, meta.up ? "▲ " + meta.up : "", data.language || ""].filter(Boolean).join(" · ");
    head.append(icon, a, info);
    const p = document.createElement("p");
    p.className = "result-excerpt";
    p.appendChild(excerptNodes(data.excerpt));
    li.append(head, p);
    return li;
  }

  async function showMore() {
    const seq = view.seq;
    const next = view.results.slice(view.shown, view.shown + PAGE);
    const items = await Promise.all(next.map(async (r) => Object.assign(await r.data(), { language: r.lang })));
    if (seq !== view.seq) return; // a newer query replaced this one
    const frag = document.createDocumentFragment();
    for (const data of items) {
      const id = data.meta && data.meta.id;
      if (id && view.ids.has(id)) continue; // the same paper found in two languages: its best match only
      if (id) view.ids.add(id);
      const li = resultItem(data);
      if (li) frag.appendChild(li);
    }
    el.results.appendChild(frag);
    view.shown += next.length;
    el.more.hidden = view.shown >= view.results.length;
  }

  async function run(query) {
    const seq = ++view.seq;
    const started = performance.now();
    view.query = query;
    el.results.textContent = "";
    el.more.hidden = true;
    if (!query.trim()) return setState("ready", "search_ready");
    setState("loading", "search_loading");
    try {
      const found = await Promise.all(languages().map(async (lang) => {
        const response = await (await instance(lang)).search(query);
        return (response && response.results ? response.results : []).map((r) => Object.assign(r, { lang: lang }));
      }));
      if (seq !== view.seq) return;
      view.results = found.flat().sort((a, b) => (b.score || 0) - (a.score || 0));
      view.shown = 0;
      view.ids = new Set();
      await showMore();
      if (seq !== view.seq) return;
      window.hfdSearch.lastMs = performance.now() - started;
      window.hfdSearch.typedMs = typedAt === null ? null : performance.now() - typedAt;
      window.hfdSearch.matched = view.results.length;
      warmOthers("search");
      if (view.results.length) setState("done", "search_found", view.ids.size + (view.shown < view.results.length ? "+" : ""));
      else setState("done", "search_none");
    } catch (e) {
      if (seq === view.seq) unavailable(e);
    }
  }

  function preload(query) {
    // While the reader pauses before the search starts, the index chunks of the words typed so far load.
    if (!query.trim() || engine.failed) return;
    for (const lang of languages()) instance(lang).then((pf) => pf.preload(query)).catch(() => {});
  }

  function syncUrl() {
    const p = new URLSearchParams(location.search);
    if (view.query) p.set("q", view.query); else p.delete("q");
    if (el.scope.value === "all") p.set("scope", "all"); else p.delete("scope");
    try {
      history.replaceState(history.state, "", location.pathname + "?" + p.toString());
    } catch (e) { /* file:// may refuse */ }
  }

  function init() {
    for (const id of ["sq", "scope", "results", "search-status", "search-unavailable", "search-more"]) {
      el[id.replace("search-", "").replace("sq", "input")] = document.getElementById(id);
    }
    if (!el.input || !el.results) return;
    let data = {};
    try {
      data = JSON.parse(document.getElementById("page-data").textContent || "{}") || {};
    } catch (e) { data = {}; }
    engine.bundles = (Array.isArray(data.bundles) ? data.bundles : []).filter((b) => /^pagefind\/[\w-]+\/$/.test(b));
    const params = new URLSearchParams(location.search);
    el.input.value = (params.get("q") || "").slice(0, 200);
    el.scope.value = params.get("scope") === "all" ? "all" : "current";
    if (!engine.bundles.length) {
      el.input.disabled = true;
      return setState("unavailable", "");
    }
    let timer = 0;
    el.input.addEventListener("input", () => {
      clearTimeout(timer);
      typedAt = performance.now();
      view.seq += 1; // a search still running is for the previous text: its results must not land
      window.hfdSearch.state = "typing";
      preload(el.input.value.slice(0, 200));
      timer = setTimeout(() => { run(el.input.value.slice(0, 200)); syncUrl(); }, DEBOUNCE_MS);
    });
    el.scope.addEventListener("change", () => { run(el.input.value.slice(0, 200)); syncUrl(); });
    el.more.addEventListener("click", () => { showMore(); });
    document.querySelectorAll(".lang-btn").forEach((b) => b.addEventListener("click", () => {
      // A reader who switches language is about to search in it: its indexes start loading now.
      if (!engine.failed && LANGS.includes(b.dataset.lang)) instance(b.dataset.lang).catch(() => {});
      if (el.scope.value !== "all" && el.input.value) run(el.input.value.slice(0, 200));
    }));
    // Load the engine up front: a reader who cannot search here learns it before typing.
    instance(languages()[0]).then(() => {
      if (engine.failed) return;
      run(el.input.value.slice(0, 200));
      setTimeout(() => warmOthers("pause"), WARM_AFTER_MS);
    }, unavailable);
    setState("loading", "search_loading");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
