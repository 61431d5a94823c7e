/* ffwd web page helpers: DOM building, the API client (with the token), formatting. */
"use strict";

const ffwd = (() => {
  const TOKEN_KEY = "ffwd-api-token";
  const REASONS = {
    manually_stopped: "Manually stopped",
    early_stopped: "Early stopped",
    privacy_budget_exhausted: "Privacy budget exhausted",
    max_epochs_reached: "Max epochs reached",
    time_limit_reached: "Time limit reached",
    unknown: "Unknown",
  };
  const STATES = {
    queued: "Queued",
    pending: "Pending",
    running: "Running",
    stopping: "Stopping",
    succeeded: "Succeeded",
    failed: "Failed",
    cancelled: "Cancelled",
  };
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

  /* h("a", {href: "/"}, "text", child): an element; strings become text nodes, never HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /* Puts `nodes` in `container` unless it shows the same already: a link replaced between a
     click's mousedown and its mouseup receives no click at all, and a replaced alert is said
     again. (Handlers are listeners, not attributes: the same HTML is the same thing.) */
  function replaceChanged(container, nodes) {
    if (container.innerHTML === nodes.map((n) => n.outerHTML).join("")) return;
    container.replaceChildren(...nodes);
  }

  function initial(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function reasonLabel(reason) {
    return REASONS[reason] || reason;
  }

  function stateLabel(state) {
    return STATES[state] || state;
  }

  function badge(state) {
    return h("span", { class: `badge state-${state}` }, stateLabel(state));
  }

  function phaseLabel(phase) {
    if (phase === "tabular") return "Tabular training";
    if (phase && phase.startsWith("text:")) return `Text training · ${phase.slice(5)}`;
    return phase;
  }

  function stepLabel(step) {
    return { synthesis: "Synthesis", report: "Report", anonymize: "Anonymization" }[step] || step;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const s = Math.floor(seconds);
    const hours = Math.floor(s / 3600);
    const minutes = Math.floor((s % 3600) / 60);
    const secs = String(s % 60).padStart(2, "0");
    if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
    return `${minutes} min ${secs} s`;
  }

  function dateTime(iso) {
    if (!iso) return "–";
    return new Date(iso).toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function clock(iso) {
    // Timestamps come to the second (as the contract writes them): no milliseconds to show.
    return new Date(iso).toLocaleTimeString(undefined, { hour12: false });
  }

  function number(value, digits = 3) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  let toastTimer = null;
  function toast(text, kind = "info") {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.className = `toast show ${kind}`;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.className = "toast"; }, 4000);
  }

  /* A dialog's dismissing button is not a submit button: Enter in the dialog's field submits
     with the form's first submit button, which must be the one that does what was asked. */
  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("dialog button[data-close]");
    if (button) button.closest("dialog").close(button.dataset.close);
  });

  /* The token dialog: the page's own, or one made the first time a token is needed. */
  function tokenDialog() {
    let dialog = document.getElementById("token-dialog");
    if (dialog) return dialog;
    dialog = h("dialog", { id: "token-dialog", "aria-labelledby": "token-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "token-title" }, "API token needed"),
        h("p", { id: "token-text" }),
        h("label", { for: "token-input" }, "API token"),
        h("input", { id: "token-input", name: "token", type: "password", autocomplete: "off" }),
        h("div", { class: "actions" },
          h("button", { class: "button", type: "button", "data-close": "cancel" }, "Cancel"),
          h("button", { class: "button primary", value: "save", id: "token-save" },
            "Save and retry"))));
    document.body.append(dialog);
    return dialog;
  }

  /* Asks for the API token in the token dialog; resolves to the token, or null. Requests
     refused at the same time share one question. */
  let asking = null;
  function askToken(again) {
    if (!asking) asking = question(again).finally(() => { asking = null; });
    return asking;
  }

  function question(again) {
    const dialog = tokenDialog();
    const input = document.getElementById("token-input");
    document.getElementById("token-text").textContent = again
      ? "That token was not accepted. Enter the server's API token (FFWD_API_TOKEN)."
      : "This server needs an API token. It is kept in this browser tab only.";
    input.value = "";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        const token = input.value.trim();
        resolve(dialog.returnValue === "save" && token ? token : null);
      }, { once: true });
      dialog.showModal();
      input.focus();
    });
  }

  class ApiError extends Error {
    constructor(problem) {
      super(problem.detail || problem.title || "request failed");
      this.problem = problem;
    }
  }

  /* A request to the server with the token; on 401 asks for the token, keeps it for this
     tab, and retries. Resolves to the Response (of any status but 401). */
  async function request(method, path, { body, accept = "application/json", signal } = {}) {
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: accept, "X-Requested-By": "web" };
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch(path, {
        method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status !== 401) return response;
      if (attempt >= 3) throw new ApiError({ status: 401, code: "unauthorized" });
      const fresh = await askToken(Boolean(token));
      if (!fresh) throw new ApiError({ code: "unauthorized", detail: "No API token given." });
      sessionStorage.setItem(TOKEN_KEY, fresh);
    }
  }

  /* A JSON request to the API: the parsed answer, or an ApiError with the problem. */
  async function api(method, path, body) {
    const response = await request(method, path, { body });
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError({ status: response.status, ...payload });
    return payload;
  }

  /* Follows a server-sent event stream read with fetch (EventSource cannot send the token):
     calls onEvent(type, data) per message; resolves when the server ends the stream. */
  async function follow(path, onOpen, onEvent, signal) {
    const response = await request("GET", path, { accept: "text/event-stream", signal });
    if (!response.ok) throw new ApiError({ status: response.status });
    onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(type, data.join("\n"));
      }
    }
  }

  /* Saves a file of the server with the token, when this tab has one (a plain link cannot
     send it); returns false when the plain link will do. */
  async function download(path, filename) {
    if (!sessionStorage.getItem(TOKEN_KEY)) return false;
    const response = await request("GET", path, { accept: "*/*" });
    if (!response.ok) throw new ApiError({ status: response.status });
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    return true;
  }

  return {
    h, replaceChanged, initial, api, request, follow, download, ApiError, badge, reasonLabel, stateLabel, phaseLabel, stepLabel,
    duration, dateTime, clock, number, toast, TERMINAL,
  };
})();
