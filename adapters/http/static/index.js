/* The generator list: one page at a time, newest first, filtered by state and name, and
   kept fresh by re-reading that page only. A refresh starts when the last one has ended
   (never two at once) and only while the tab is visible. */
"use strict";

(() => {
  const { h } = ffwd;
  const REFRESH_MS = 3000;
  const LIMIT = 25;
  const body = document.getElementById("generators");
  const stateFilter = document.getElementById("filter-state");
  const nameFilter = document.getElementById("filter-name");
  const newer = document.getElementById("newer");
  const older = document.getElementById("older");
  const info = document.getElementById("page-info");

  const shown = new URLSearchParams(location.search);
  const view = {
    state: shown.get("state") || "",
    name: shown.get("name") || "",
    cursor: shown.get("cursor") || "",
    before: [], // the cursors of the pages before this one, to go back to
  };
  let next = null;
  let timer = null;
  let loading = null;

  function row(s) {
    return h("tr", { "data-generator": s.id },
      h("th", { scope: "row" }, h("a", { href: `/generators/${s.id}` }, s.name)),
      h("td", {}, ffwd.badge(s.state)),
      h("td", {}, s.kind === "training" ? "Training" : "Anonymization"),
      h("td", {}, h("time", { datetime: s.created_at }, ffwd.dateTime(s.created_at))),
      h("td", {}, h("code", { title: s.id }, s.id.slice(0, 8))));
  }

  function render(page) {
    const filtered = view.state || view.name;
    ffwd.replaceChanged(body, page.items.length ? page.items.map(row) : [
      h("tr", {}, h("td", { colspan: 5, class: "empty" }, filtered
        ? "No generator matches these filters."
        : "No generator yet. Create one with `ffwd run SPEC` or POST /api/generators."))]);
    next = page.next;
    older.disabled = !next;
    newer.disabled = !view.cursor;
    const label = view.cursor || next ? `Page ${view.before.length + 1}` : "";
    if (info.textContent !== label) info.textContent = label; // said anew only when it changes
  }

  function query() {
    const params = new URLSearchParams({ limit: String(LIMIT) });
    if (view.state) params.set("state", view.state);
    if (view.name) params.set("name", view.name);
    if (view.cursor) params.set("cursor", view.cursor);
    return params;
  }

  function remember() {
    const params = query();
    params.delete("limit");
    const search = params.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  }

  /* Reads the shown page; the next refresh is planned only once this one has ended. */
  async function load() {
    clearTimeout(timer);
    const asked = query().toString();
    const request = ffwd.api("GET", `/api/generators?${asked}`);
    loading = request;
    try {
      const page = await request;
      if (loading === request && asked === query().toString()) render(page);
    } catch (err) {
      if (err instanceof ffwd.ApiError && err.problem.code === "unauthorized") {
        /* no token given: say so, and stop asking until the user does something */
        loading = null;
        body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "empty" },
          "This server needs an API token to list generators. Reload to enter it.")));
        return;
      }
      if (err instanceof ffwd.ApiError && err.problem.status) ffwd.toast(err.message, "error");
      /* else the server is away: keep what is shown, try again later */
    } finally {
      if (loading === request) {
        loading = null;
        plan();
      }
    }
  }

  function plan() {
    clearTimeout(timer);
    if (document.visibilityState === "visible") timer = setTimeout(load, REFRESH_MS);
  }

  function show(changes) {
    Object.assign(view, changes);
    remember();
    load();
  }

  stateFilter.value = view.state;
  nameFilter.value = view.name;
  stateFilter.addEventListener("change", () => {
    show({ state: stateFilter.value, cursor: "", before: [] });
  });
  let typing = null;
  nameFilter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => show({ name: nameFilter.value.trim(), cursor: "", before: [] }),
      250);
  });
  document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());
  older.addEventListener("click", () => {
    if (!next) return;
    const cursor = next;
    next = null; // until that page is shown: a second click must not skip past it
    show({ before: [...view.before, view.cursor], cursor });
  });
  newer.addEventListener("click", () => {
    const before = [...view.before];
    show({ cursor: before.pop() || "", before });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !loading) load();
    else if (document.visibilityState !== "visible") clearTimeout(timer);
  });
  load();
})();
