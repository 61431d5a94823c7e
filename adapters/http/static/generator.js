/* The generator view: the Model Training panel, the pipeline, outputs and the timeline,
   kept live from the server-sent events of the generator (no reload). */
"use strict";

(() => {
  const { h } = ffwd;
  // The id, or what the address named (a prefix) until the view is read with the token.
  let gid = document.getElementById("main").dataset.generator;
  const FF_ICON = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" ' +
    'focusable="false"><path fill="currentColor" d="M3 5.5v13l9-6.5zm9 0v13l9-6.5z"/></svg>';

  let view = ffwd.initial("initial-view");
  let receivedAt = performance.now();
  const rows = new Map();       // phase id -> the row's elements
  const shownElapsed = new Map(); // phase id + attempt -> last elapsed shown (never goes back)
  const seen = new Set();       // versions already in the timeline
  let shownUpTo = 0;            // the newest version in the timeline
  let streamEnded = false;
  let streamOpen = false;       // the event stream is connected
  // What the timeline says of each phase's curve: its epoch when a stop was asked for,
  // and the epoch where a stop landed.
  const timeline = {
    lastEpoch: new Map(), stopAskedAt: new Map(), stopLandedAt: new Map(), released: new Map(),
  };
  const curves = new Map();     // phase id -> { chart, rows, fetched, loading }

  // ---- The header and the generator's facts -------------------------------------------

  let metaShown = null;
  let updated = null; // the "Updated" time of the generator's facts
  function renderSummary() {
    document.title = `${view.name} · ffwd`;
    document.getElementById("gen-name").textContent = view.name;
    document.getElementById("crumb").textContent = view.name;
    document.getElementById("gen-state").replaceWith(
      Object.assign(ffwd.badge(view.state), { id: "gen-state" }));
    // Built once: replaced at each update, its link would lose a click made meanwhile.
    const shown = JSON.stringify([view.id, view.kind, view.created_at, view.parent]);
    if (shown !== metaShown) {
      metaShown = shown;
      updated = h("span");
      const facts = [
        ["Id", h("code", {}, view.id)],
        ["Kind", view.kind === "training" ? "Training" : "Anonymization"],
        ["Created", ffwd.dateTime(view.created_at)],
        ["Updated", updated],
      ];
      if (view.parent) {
        facts.push(["Continues", h("a", { href: `/generators/${view.parent}` },
          h("code", {}, view.parent.slice(0, 8)))]);
      }
      document.getElementById("gen-meta").replaceChildren(
        ...facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
    }
    const when = ffwd.dateTime(view.updated_at);
    if (updated.textContent !== when) updated.textContent = when;
    const error = document.getElementById("gen-error");
    error.hidden = !view.error;
    error.textContent = view.error ? `Error: ${view.error}` : "";
    document.getElementById("continue").hidden =
      !(view.kind === "training" && view.state === "succeeded");
  }

  // ---- The lineage: the generators that continue this one -------------------------------

  let childrenAsked = 0;
  async function showChildren() {
    const lineage = document.getElementById("lineage");
    const asked = ++childrenAsked;
    try {
      const page = await ffwd.api("GET", `/api/generators?parent=${gid}&limit=20`);
      if (asked !== childrenAsked) return; // a later question was asked: its answer is newer
      lineage.hidden = !page.items.length;
      lineage.replaceChildren("Continued by ", ...page.items.flatMap((c, i) => [
        i ? ", " : "",
        h("a", { href: `/generators/${c.id}`, "data-child": c.id }, c.name, " ",
          h("code", {}, c.id.slice(0, 8))),
        " ", ffwd.badge(c.state)]));
    } catch (err) {
      /* the lineage is a convenience: the page goes on without it */
    }
  }

  function askContinue() {
    const dialog = document.getElementById("continue-dialog");
    const input = document.getElementById("more-epochs");
    const training = (view.spec && view.spec.training) || {};
    input.value = String(training.max_epochs || 10);
    dialog.returnValue = "";
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "confirm") return;
      const more = Number.parseInt(input.value, 10);
      try {
        const made = await ffwd.api(
          "POST", `/api/generators/${gid}/continue`, { more_epochs: more });
        ffwd.toast(`A new generator trains ${more} more epochs: ${made.id.slice(0, 8)}.`);
        await showChildren();
      } catch (err) {
        ffwd.toast(err.message, "bad");
      }
    }, { once: true });
    dialog.showModal();
    input.focus();
  }

  // ---- The Model Training panel ---------------------------------------------------------

  function withPrivacy() {
    return Boolean(view.spec && view.spec.training && view.spec.training.differential_privacy);
  }

  function buildTable() {
    const container = document.getElementById("phases");
    rows.clear();
    if (view.kind !== "training") {
      container.replaceChildren(h("p", { class: "empty" },
        "Anonymization generators do not involve model training: there is no phase to stop."));
      return;
    }
    const head = ["Phase", "State", "Epochs", "Elapsed", "Val loss"];
    if (withPrivacy()) head.push("Privacy budget");
    head.push("Stop reason");
    const body = h("tbody");
    for (const p of view.phases) body.append(...buildRow(p));
    container.replaceChildren(h("table", { class: "phases" },
      h("caption", { class: "sr-only" }, "Training phases"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Fast-forward")),
        head.map((label) => h("th", { scope: "col" }, label)))),
      body));
  }

  function buildRow(p) {
    const button = h("button", {
      type: "button", class: "ff", "aria-label": `Stop training phase ${p.id}`,
      onclick: () => stopPhase(p.id),
    });
    button.innerHTML = FF_ICON;
    const r = {
      button,
      state: h("td", { class: "state" }),
      epochs: h("span", { class: "epochs" }),
      bar: h("span", { class: "bar-fill" }),
      elapsed: h("td", { class: "num elapsed" }),
      loss: h("td", { class: "num" }),
      eps: withPrivacy() ? h("td", { class: "budget-cell" }) : null,
      note: h("td", { class: "note" }),
    };
    r.tr = h("tr", { "data-phase": p.id },
      h("td", { class: "ff-cell" }, button),
      h("th", { scope: "row", class: "phase-name", tabindex: "-1" },
        h("span", { class: "phase-title" }, ffwd.phaseLabel(p.id)),
        h("code", { class: "phase-id" }, p.id)),
      r.state,
      h("td", { class: "progress-cell" }, r.epochs,
        h("span", { class: "bar", "aria-hidden": "true" }, r.bar)),
      r.elapsed, r.loss, r.eps, r.note);
    r.facts = h("div", { class: "phase-facts" });
    r.alert = h("p", { class: "sr-only", role: "alert" });
    r.curve = h("div", { class: "curve", "data-curve-for": p.id });
    r.curveRow = h("tr", { class: "curve-row", "data-curve-for": p.id, hidden: true },
      h("td", {}), h("td", { colspan: withPrivacy() ? 7 : 6 }, r.alert, r.facts, r.curve));
    rows.set(p.id, r);
    return [r.tr, r.curveRow];
  }

  /* A focused button that is disabled drops the focus to the page's start: the keyboard user
     stays on the phase's row instead. */
  function setEnabled(r, enabled) {
    const focused = document.activeElement === r.button;
    r.button.disabled = !enabled;
    if (focused && !enabled) r.tr.querySelector(".phase-name").focus();
  }

  function phaseNote(p) {
    if (p.state === "succeeded") {
      const chips = p.reasons.length ? p.reasons : ["unknown"];
      const parts = [h("span", { class: "reasons" },
        chips.map((reason) => h("span", { class: `reason reason-${reason}` },
          ffwd.reasonLabel(reason))))];
      if (p.checkpoint) {
        parts.push(h("span", { class: "sub" },
          `Checkpoint at epoch ${p.checkpoint.epoch}, step ${p.checkpoint.step}`));
      }
      return parts;
    }
    if (p.state === "failed") return h("span", { class: "sub bad" }, p.error || "Failed");
    if (p.state === "cancelled") return h("span", { class: "sub" }, "Cancelled with the generator");
    if (p.state === "pending" && p.stop_requested) {
      return h("span", { class: "queued-note" }, "Stop queued: applied when the phase begins");
    }
    if (p.waiting_for) {
      return h("span", { class: "queued-note" }, `Waiting for resources: ${p.waiting_for}`);
    }
    if (p.state === "stopping") {
      return h("span", { class: "queued-note" },
        "Stop requested: ends at the next step boundary");
    }
    if (p.state === "pending" && p.preemptions) {
      return h("span", { class: "queued-note preempted" },
        `Preempted at epoch ${p.epoch}, step ${p.step}: resumes` +
        (p.best ? ` from epoch ${p.best.epoch}, step ${p.best.step}` : "") +
        " on the next free worker");
    }
    if (p.state === "pending" && p.kind === "text") {
      return h("span", { class: "sub" }, "Queued behind tabular training");
    }
    if (p.state === "running" && p.preemptions) {
      return h("span", { class: "sub preempted" },
        `Preempted ${p.preemptions === 1 ? "once" : `${p.preemptions} times`}, resumed each time`);
    }
    return "";
  }

  function elapsedOf(p, now) {
    const key = `${p.id}#${p.attempt}`;
    if (p.state !== "running" && p.state !== "stopping") {
      shownElapsed.delete(key);
      return p.state === "pending" ? null : p.elapsed_s;
    }
    if (p.stale) return Math.max(p.elapsed_s, shownElapsed.get(key) || 0); // silent: no ticking
    const live = p.elapsed_s + Math.max(0, (now - receivedAt) / 1000);
    const shown = Math.max(live, shownElapsed.get(key) || 0);
    shownElapsed.set(key, shown);
    return shown;
  }

  function updatePhases() {
    if (view.kind !== "training") return;
    const live = !ffwd.TERMINAL.has(view.state);
    for (const p of view.phases) {
      const limit = p.epoch_limit || null;
      const r = rows.get(p.id);
      if (!r) { buildTable(); return updatePhases(); }
      const available = live && !p.stop_requested && (p.state === "pending" || p.state === "running");
      setEnabled(r, available);
      r.button.classList.toggle("requested", p.stop_requested && !ffwd.TERMINAL.has(p.state));
      r.button.title = available
        ? (p.state === "pending"
          ? "Stop training: pre-queue a stop, applied when the phase begins"
          : "Stop training: end this phase at its next step boundary, keep its checkpoint")
        : (p.stop_requested ? "Stop requested" : `This phase is ${ffwd.stateLabel(p.state)}`);
      r.tr.dataset.state = p.state;
      r.tr.dataset.stopRequested = String(p.stop_requested);
      r.state.replaceChildren(ffwd.badge(p.state));
      r.epochs.textContent = limit ? `${p.epoch} / ${limit}` : String(p.epoch);
      const done = p.state === "succeeded";
      const share = done ? 1 : (limit ? Math.min(p.epoch / limit, 1) : 0);
      r.bar.style.width = `${Math.round(share * 100)}%`;
      r.bar.className = `bar-fill bar-${p.state}`;
      r.elapsed.textContent = ffwd.duration(elapsedOf(p, performance.now()));
      r.loss.textContent = ffwd.number(p.val_loss);
      if (r.eps) renderBudget(r.eps, p, limit);
      r.note.replaceChildren(...[phaseNote(p)].flat().filter(Boolean));
      showCurve(p, r);
    }
  }

  // ---- Each phase's curve and the facts a stop is decided by ----------------------------

  function showCurve(p, r) {
    const ran = p.attempt > 0 || p.best; // not a phase cancelled before it began
    r.curveRow.hidden = !ran;
    if (!ran) return;
    const c = curves.get(p.id) || { chart: null, rows: [], fetched: "", loading: false };
    curves.set(p.id, c);
    // Built with its row, empty: drawn once the rows came, it moved all below it mid-click.
    if (!c.chart || c.chart.container !== r.curve) c.chart = new ffwdCurves.Chart(r.curve, p, view);
    showFacts(r, p, c.rows);
    const wanted = curveKey(p);
    if (c.fetched !== wanted && !c.loading) loadCurve(p.id, c, wanted);
    else c.chart.update(c.rows, ffwdCurves.marks(p, timeline));
  }

  /* A silent runner is said once, by the row's alert, in words that do not tick. */
  function showFacts(r, p, curveRows) {
    const alert = p.stale && p.last_report_at
      ? `${ffwd.phaseLabel(p.id)}: no report since ${ffwd.clock(p.last_report_at)}; ` +
        "its worker may be gone."
      : "";
    if (r.alert.textContent !== alert) r.alert.textContent = alert;
    ffwd.replaceChanged(r.facts, ffwdCurves.facts(p, view, curveRows, Date.now()));
  }

  // A running phase's curve is read again at most this often: each read is its whole curve.
  const CURVE_READ_EVERY_MS = 1000;

  function curveKey(p) {
    return `${p.state}:${p.epoch}:${p.step}:${p.best ? p.best.id : ""}`;
  }

  async function loadCurve(phaseId, c, wanted) {
    c.loading = true;
    const began = performance.now();
    let pause = 0;
    try {
      try {
        const read = await ffwd.api(
          "GET", `/api/generators/${gid}/phases/${encodeURIComponent(phaseId)}/metrics`);
        if (!Array.isArray(read)) throw new TypeError("the metrics are not a list");
        c.rows = read;
        c.fetched = wanted;
        c.failures = 0;
      } catch (err) {
        if (err instanceof ffwd.ApiError && err.problem.code === "unauthorized") {
          c.fetched = wanted; // no token given: asked again only when the phase moves on
        } else {
          // The server is away or answered nonsense: read again later, less often each time.
          c.failures = (c.failures || 0) + 1;
          pause = Math.min(1000 * 2 ** (c.failures - 1), 10_000);
        }
      }
      const shown = view.phases.find((x) => x.id === phaseId);
      const r = rows.get(phaseId);
      if (!shown || !r) return;
      c.chart.update(c.rows, ffwdCurves.marks(shown, timeline));
      showFacts(r, shown, c.rows);
      if (!ffwd.TERMINAL.has(shown.state)) pause = Math.max(pause, CURVE_READ_EVERY_MS);
      const wait = pause - (performance.now() - began);
      if (wait > 0) await new Promise((done) => { setTimeout(done, wait); });
    } finally {
      c.loading = false;
    }
    const p = view.phases.find((x) => x.id === phaseId);
    if (p && rows.has(phaseId) && curveKey(p) !== c.fetched) loadCurve(phaseId, c, curveKey(p));
  }

  window.addEventListener("resize", () => {
    for (const c of curves.values()) if (c.chart) c.chart.resize();
  });

  // The privacy budget: a bar of epsilon spent against the maximum, and the forecast of how
  // many more epochs it pays for (to pre-queue a stop knowing when the budget ends the phase).
  function renderBudget(cell, p, limit) {
    const b = p.privacy;
    if (!b) { cell.textContent = ffwd.number(p.epsilon, 2); return; }
    const spent = b.epsilon || 0;
    const share = b.max_epsilon ? Math.min(spent / b.max_epsilon, 1) : 0;
    const fill = h("span", { class: "bar-fill budget-fill" });
    fill.style.width = `${Math.round(share * 1000) / 10}%`;
    cell.replaceChildren(
      h("span", { class: "num budget-value" },
        `ε ${ffwd.number(spent, 2)} of ${b.max_epsilon}`),
      h("span", {
        class: "bar budget-bar", role: "meter", "aria-valuemin": 0,
        "aria-valuemax": b.max_epsilon, "aria-valuenow": spent,
        "aria-label": `Privacy budget of ${p.id}: epsilon ${ffwd.number(spent, 2)} of ` +
          `${b.max_epsilon} spent`,
      }, fill),
      h("span", { class: "sub budget-forecast" }, budgetForecast(p, b, limit)));
  }

  function budgetForecast(p, b, limit) {
    const noise = b.noise_multiplier === null ? "" : ` · noise ${ffwd.number(b.noise_multiplier, 2)}`;
    const left = b.epochs_left;
    if (left === null || left === undefined) {
      return b.noise_multiplier === null
        ? `noise chosen for the budget when it starts · δ ${b.delta}`
        : `noise ${ffwd.number(b.noise_multiplier, 2)} · δ ${b.delta}`;
    }
    let words;
    if (left >= 1e6) words = "the budget does not limit it";
    else if (ffwd.TERMINAL.has(p.state)) words = `allows ${left} more epochs`;
    else if (left === 0) words = "spent: ends at the next step";
    else if (limit && left >= limit - p.epoch) words = `${left} epochs left: the epoch limit comes first`;
    else words = `ends the phase in ${left} epochs`;
    return `${words}${noise}`;
  }

  function updateCancel() {
    const cancel = document.getElementById("cancel");
    cancel.disabled = ffwd.TERMINAL.has(view.state);
    cancel.setAttribute("aria-label", `Cancel generator ${view.name}`);
  }

  function tick() {
    const now = performance.now();
    if (view.kind !== "training") return;
    const running = view.phases.some((p) => p.state === "running" || p.state === "stopping");
    if (running && now - refreshedAt > QUIET_REFRESH_MS) scheduleRefresh(0);
    for (const p of view.phases) {
      if (p.state !== "running" && p.state !== "stopping") continue;
      const r = rows.get(p.id);
      if (!r) continue;
      r.elapsed.textContent = ffwd.duration(elapsedOf(p, now));
      if (p.stale) showFacts(r, p, (curves.get(p.id) || { rows: [] }).rows);
    }
  }

  // ---- Pipeline steps and outputs -------------------------------------------------------

  function renderSteps() {
    const list = document.getElementById("steps");
    list.replaceChildren(...view.steps.map((s) => h("li", { "data-step": s.id },
      h("span", { class: "step-name" }, ffwd.stepLabel(s.id)),
      ffwd.badge(s.state),
      s.error ? h("span", { class: "sub bad" }, s.error) : null)));
  }

  function relative(path) {
    const marker = `/${gid}/`;
    const at = String(path).replace(/\\/g, "/").indexOf(marker);
    return at >= 0 ? String(path).slice(at + marker.length) : String(path).split(/[\\/]/).pop();
  }

  function fileLink(label, path) {
    const name = relative(path);
    const href = `/generators/${gid}/files/${name.split("/").map(encodeURIComponent).join("/")}`;
    const save = async (ev) => {
      ev.preventDefault();
      try {
        if (!(await ffwd.download(href, name.split("/").pop()))) window.location.href = href;
      } catch (err) {
        ffwd.toast(err.message, "bad");
      }
    };
    return h("li", {}, h("a", { href, onclick: save }, label));
  }

  function renderOutputs() {
    const list = document.getElementById("outputs");
    const o = view.outputs || {};
    const items = [];
    if (o.report_html) items.push(fileLink("Quality report (HTML)", o.report_html));
    for (const [table, path] of Object.entries(o.synthetic || {})) {
      items.push(fileLink(`Synthetic ${table} (CSV)`, path));
    }
    for (const [table, path] of Object.entries(o.anonymized || {})) {
      items.push(fileLink(`Anonymized ${table} (CSV)`, path));
    }
    if (o.report) items.push(fileLink("Quality report (JSON)", o.report));
    if (!items.length) {
      const text = view.state === "cancelled"
        ? "Cancelled: no checkpoint and no output were kept."
        : view.state === "failed"
          ? "No output: the generator failed."
          : "The synthetic data and the report appear here once they exist.";
      items.push(h("li", { class: "empty" }, text));
    }
    ffwd.replaceChanged(list, items);
  }

  // ---- The timeline ---------------------------------------------------------------------

  function describe(e) {
    const d = e.data || {};
    const who = e.requested_by ? `by ${e.requested_by}` : "";
    const label = ffwd.phaseLabel(e.phase);
    const step = ffwd.stepLabel(e.pipeline_step);
    switch (e.type) {
      case "Created":
        return { title: "Generator created", detail: d.parent ? `continues ${d.parent}` : "" };
      case "Started": return { title: "Generator started" };
      case "PhaseStarted":
        if (e.resumesRelease) {
          const r = e.resumesRelease;
          return {
            title: `${label} resumed by ${d.worker}`,
            detail: `attempt ${d.attempt}, from epoch ${r.epoch}, step ${r.step} where it was preempted`,
          };
        }
        return {
          title: `${label} started`,
          detail: d.state === "stopping"
            ? "a stop was pre-queued: it ends at its first step boundary"
            : `attempt ${d.attempt} on ${d.worker}`,
        };
      case "PhaseReleased":
        return {
          title: `${label} preempted at epoch ${d.epoch}, step ${d.step}`, kind: "stop",
          detail: `${d.worker || "its worker"} was shutting down and handed it back` +
            (d.kept ? `; resumes from ${d.kept.id}` : "; resumes from where it began") +
            " on the next free worker",
        };
      case "StepReleased":
        return {
          title: `${step} preempted`, kind: "stop",
          detail: `${d.worker || "its worker"} was shutting down: it runs again on the next free worker`,
        };
      case "StopRequested":
        return {
          title: `Stop requested for ${label}`, who, kind: "stop",
          detail: d.phase_state_then === "pending"
            ? "pre-queued: applied when the phase begins"
            : "ends at the next step boundary",
        };
      case "PhaseProgressed":
        return {
          title: `${label}: epoch ${d.epoch}`, progress: true,
          detail: `step ${d.step} · ${ffwd.duration(d.elapsed_s)}` +
            (d.val_loss === null || d.val_loss === undefined ? "" : ` · val loss ${ffwd.number(d.val_loss)}`),
        };
      case "PrivacyPlanned":
        return {
          title: `${label}: noise multiplier ${ffwd.number(d.noise_multiplier, 2)}`,
          progress: true,
          detail: (d.calibrated ? "chosen for the privacy budget" : "as the spec sets it") +
            ` · the budget lasts until step ${d.last_step} (${d.steps_per_epoch} steps an epoch)`,
        };
      case "PhaseSucceeded":
        return {
          title: `${label} succeeded`, kind: "good",
          reasons: (d.reasons && d.reasons.length) ? d.reasons : ["unknown"],
          detail: `epoch ${d.epoch} · step ${d.step} · ${ffwd.duration(d.elapsed_s)}`,
        };
      case "PhaseFailed": return { title: `${label} failed`, kind: "bad", detail: d.error };
      case "StepStarted": return { title: `${step} started` };
      case "StepSucceeded": return { title: `${step} succeeded`, kind: "good" };
      case "StepFailed": return { title: `${step} failed`, kind: "bad", detail: d.error };
      case "Succeeded": return { title: "Generator succeeded", kind: "good" };
      case "Failed": return { title: "Generator failed", kind: "bad", detail: d.error };
      case "TakenOver":
        return {
          title: `${label || step} taken over`, kind: "stop",
          detail: `attempt ${d.attempt} on ${d.worker}: ${d.previous_worker || "its worker"} ` +
            "stopped answering" + (d.resume_from ? `; resumes from ${d.resume_from.id}` : ""),
        };
      case "Heartbeat": return { title: `${label || step}: worker alive`, progress: true };
      case "PartWaiting":
        return d.resources
          ? { title: `${label || step}: waiting for resources`, detail: d.resources }
          : { title: `${label || step}: its resources came free`, detail: "it began" };
      case "Cancelled":
        return {
          title: "Generator cancelled", kind: "bad", who,
          detail: d.aborted && d.aborted.length ? `aborted: ${d.aborted.join(", ")}` : "",
        };
      default: return { title: e.type, who };
    }
  }

  function remember(e) {
    const d = e.data || {};
    if (e.type === "PhaseReleased") timeline.released.set(e.phase, d);
    if ((e.type === "PhaseStarted" || e.type === "TakenOver") && timeline.released.has(e.phase)) {
      if (e.type === "PhaseStarted") e.resumesRelease = timeline.released.get(e.phase);
      timeline.released.delete(e.phase);
    }
    if (e.type === "PhaseProgressed" || e.type === "PhaseSucceeded") {
      timeline.lastEpoch.set(e.phase, d.epoch);
    }
    if (e.type === "StopRequested") {
      timeline.stopAskedAt.set(e.phase, timeline.lastEpoch.get(e.phase) ?? 0);
    }
    if (e.type === "PhaseSucceeded" && (d.reasons || []).includes("manually_stopped")) {
      timeline.stopLandedAt.set(e.phase, d.epoch);
    }
  }

  function addEntry(e) {
    if (seen.has(e.version)) return;
    seen.add(e.version);
    remember(e);
    shownUpTo = Math.max(shownUpTo, e.version);
    const t = describe(e);
    const item = h("li", {
      class: `event ${t.kind || ""} ${t.progress ? "progress" : ""}`.trim(),
      "data-type": e.type, "data-version": e.version, "data-phase": e.phase || null,
    },
      h("time", { datetime: e.timestamp }, ffwd.clock(e.timestamp)),
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("div", { class: "what" },
        h("span", { class: "event-title" }, t.title),
        t.reasons ? h("span", { class: "reasons" }, t.reasons.map((reason) =>
          h("span", { class: `reason reason-${reason}` }, ffwd.reasonLabel(reason)))) : null,
        t.detail ? h("span", { class: "sub" }, t.detail) : null,
        t.who ? h("span", { class: "who" }, t.who) : null));
    const list = document.getElementById("timeline");
    const after = [...list.children].find((li) => Number(li.dataset.version) > e.version);
    list.insertBefore(item, after || null);
  }

  // ---- Live updates ---------------------------------------------------------------------

  function apply(next) {
    if (next.version < view.version) return;
    const rebuild = next.phases.length !== view.phases.length;
    view = next;
    receivedAt = performance.now();
    if (rebuild) buildTable();
    renderSummary();
    updatePhases();
    updateCancel();
    renderSteps();
    renderOutputs();
  }

  let refreshTimer = null;
  let refreshing = false;
  let refreshedAt = performance.now();
  // While a phase runs and no event comes, read the view now and then all the same: only
  // the server can tell that a silent runner is stale (it knows the lease).
  const QUIET_REFRESH_MS = 5000;
  function scheduleRefresh(delay = 60) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, delay);
  }

  async function refresh() {
    if (refreshing) { scheduleRefresh(); return; }
    refreshing = true;
    refreshedAt = performance.now();
    try {
      apply(await ffwd.api("GET", `/api/generators/${gid}`));
      if (streamOpen) setLive("live"); // after a read that failed while the stream held
    } catch (err) {
      if (!(err instanceof ffwd.ApiError)) {
        setLive("offline");
        if (streamOpen) scheduleRefresh(2000); // nothing else may come to ask again
      }
    } finally {
      refreshing = false;
    }
  }

  function setLive(status) {
    const el = document.getElementById("live");
    const text = {
      connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
      ended: "Finished", offline: "Offline: retrying…",
    }[status];
    el.textContent = text;
    el.className = `live live-${status}`;
  }

  async function connect() {
    // The stream sends only new events unless asked: the timeline needs the whole history.
    try {
      await ffwd.follow(`/api/generators/${gid}/events?after=${shownUpTo}`,
        () => { streamOpen = true; setLive("live"); },
        (type, data) => {
          if (type === "end") {
            streamEnded = true;
            streamOpen = false;
            setLive("ended");
            scheduleRefresh(0);
            return;
          }
          addEntry(JSON.parse(data));
          scheduleRefresh();
        });
    } catch (err) {
      /* the server is away, or the stream broke: reconnect below */
    }
    streamOpen = false;
    if (streamEnded) return;
    setLive("offline");
    setTimeout(() => { setLive("reconnecting"); connect(); }, 2000);
  }

  // ---- Actions --------------------------------------------------------------------------

  async function stopPhase(phaseId) {
    const r = rows.get(phaseId);
    if (r) setEnabled(r, false);
    try {
      const next = await ffwd.api(
        "POST", `/api/generators/${gid}/phases/${encodeURIComponent(phaseId)}/stop`);
      apply(next);
      const p = next.phases.find((x) => x.id === phaseId);
      ffwd.toast(p && p.state === "pending"
        ? `Stop queued for ${phaseId}: applied when the phase begins.`
        : `Stop requested for ${phaseId}: it ends at its next step boundary.`);
    } catch (err) {
      ffwd.toast(err.message, "bad");
      if (r) setEnabled(r, true);
      scheduleRefresh(0);
    }
  }

  function askCancel() {
    const dialog = document.getElementById("cancel-dialog");
    dialog.returnValue = "";
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "confirm") return;
      try {
        apply(await ffwd.api("POST", `/api/generators/${gid}/cancel`));
        ffwd.toast("Generator cancelled: the whole pipeline was aborted.");
      } catch (err) {
        ffwd.toast(err.message, "bad");
        scheduleRefresh(0);
      }
    }, { once: true });
    dialog.showModal();
  }

  document.getElementById("cancel").addEventListener("click", askCancel);
  document.getElementById("continue").addEventListener("click", askContinue);
  document.getElementById("show-progress").addEventListener("change", (ev) => {
    document.getElementById("timeline").classList.toggle("with-progress", ev.target.checked);
  });

  function notFound(err) {
    const main = document.getElementById("main");
    const text = err.problem && err.problem.status === 404
      ? "There is no generator with this id."
      : `The generator cannot be shown: ${err.message}`;
    main.replaceChildren(h("h1", {}, "Generator not found"), h("p", { class: "lead" }, text),
      h("p", {}, h("a", { class: "button", href: "/" }, "All generators")));
    setLive("offline");
  }

  async function start() {
    if (view === null) {
      // The server has a token: the page holds no data, it is read with the token.
      try {
        view = await ffwd.api("GET", `/api/generators/${encodeURIComponent(gid)}`);
      } catch (err) {
        notFound(err);
        return;
      }
    }
    gid = view.id;
    buildTable();
    apply(view);
    setLive("connecting");
    connect();
    showChildren();
    setInterval(tick, 200);
  }

  start();
})();
