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

  /* Asks for the API token in the token dialog; resolves to the token, or null. */
  function askToken(again) {
    const dialog = document.getElementById("token-dialog");
    if (!dialog) return Promise.resolve(null);
    const input = document.getElementById("token-input");
    document.getElementById("token-text").textContent = again
      ? "That token was not accepted. Enter the server's API token (FFWD_API_TOKEN)."
      : "This server needs an API token for changes. It is kept in this browser tab only.";
    input.value = "";
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

  /* A JSON request to the API; on 401 asks for the token once, keeps it, and retries. */
  async function api(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: "application/json", "X-Requested-By": "web" };
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status === 401 && attempt < 3) {
        const fresh = await askToken(Boolean(token));
        if (!fresh) throw new ApiError({ code: "unauthorized", detail: "No API token given." });
        sessionStorage.setItem(TOKEN_KEY, fresh);
        continue;
      }
      const payload = await response.json().catch(() => ({}));
      if (!response.ok) throw new ApiError({ status: response.status, ...payload });
      return payload;
    }
  }

  return {
    h, initial, api, ApiError, badge, reasonLabel, stateLabel, phaseLabel, stepLabel,
    duration, dateTime, clock, number, toast, TERMINAL,
  };
})();
