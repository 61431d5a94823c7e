/* The generator list, newest first, refreshed every few seconds. */
"use strict";

(() => {
  const { h } = ffwd;
  const REFRESH_MS = 3000;
  let timer = null;

  function render(summaries) {
    const body = document.getElementById("generators");
    if (!summaries.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "empty" },
        "No generator yet. Create one with `ffwd run SPEC` or POST /api/generators.")));
      return;
    }
    body.replaceChildren(...summaries.map((s) => h("tr", { "data-generator": s.id },
      h("th", { scope: "row" }, h("a", { href: `/generators/${s.id}` }, s.name)),
      h("td", {}, ffwd.badge(s.state)),
      h("td", {}, s.kind === "training" ? "Training" : "Anonymization"),
      h("td", {}, h("time", { datetime: s.created_at }, ffwd.dateTime(s.created_at))),
      h("td", {}, h("code", { title: s.id }, s.id.slice(0, 8))))));
  }

  async function refresh() {
    try {
      render(await ffwd.api("GET", "/api/generators"));
    } catch (err) {
      // No token given: stop asking. The server is away: keep what is shown, try later.
      if (err instanceof ffwd.ApiError && err.problem.code === "unauthorized") clearInterval(timer);
    }
  }

  const initial = ffwd.initial("initial-list");  // null when the server has a token
  if (initial === null) refresh(); else render(initial);
  timer = setInterval(refresh, REFRESH_MS);
})();
