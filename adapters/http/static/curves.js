/* What a person decides a stop by, beside each phase: its learning curve (validation and
   training loss by epoch, with uPlot, shipped in static/vendor), the kept checkpoint, where a
   stop was asked for and where it landed, the early-stopping patience window, the privacy
   spent; and in words the best so far, a usable checkpoint, the time left, a silent runner. */
"use strict";

const ffwdCurves = (() => {
  const { h } = ffwd;
  const LIVE = new Set(["running", "stopping"]);
  const COLORS = { val: "#2563eb", train: "#9ca3af", eps: "#b45309", best: "#059669",
    asked: "#d97706", landed: "#7c3aed", patience: "rgba(5, 150, 105, 0.08)" };

  function ago(seconds) {
    const s = Math.max(0, seconds);
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  /* Seconds to the phase's epoch limit or its time limit, whichever comes first, at the pace
     of the epochs this generator trained; null while there is no pace. */
  function timeLeft(p, view, rows) {
    if (!LIVE.has(p.state)) return null;
    const own = rows.filter((r) => r.generator === view.id);
    const estimates = [];
    if (own.length) {
      const first = own[0].epoch - 1;
      const pace = own[own.length - 1].elapsed_s / Math.max(1, own[own.length - 1].epoch - first);
      estimates.push(Math.max(0, p.epoch_limit - p.epoch) * pace);
    }
    const limit = view.spec && view.spec.training && view.spec.training.max_training_time_s;
    if (limit) estimates.push(Math.max(0, limit - p.elapsed_s));
    return estimates.length ? Math.min(...estimates) : null;
  }

  function silence(p, now) {
    if (!p.stale || !p.last_report_at) return null;
    const quiet = ago((now - Date.parse(p.last_report_at)) / 1000);
    let end = "another worker takes over when its lease ends";
    if (p.lease_expires_at) {
      const left = (Date.parse(p.lease_expires_at) - now) / 1000;
      end = left > 0
        ? `another worker takes over when the lease ends in ${ago(left)}`
        : "its lease has ended: another worker takes over at its next look";
    }
    return `No report for ${quiet}: its worker may be gone; ${end}.`;
  }

  /* The facts of one phase, in words; empty before it begins. */
  function facts(p, view, rows, now) {
    const items = [];
    const quiet = silence(p, now);
    if (quiet) items.push(h("p", { class: "stale" }, quiet)); // said once by the row's alert
    const said = [];
    if (p.best) {
      const since = p.epochs_since_best || 0;
      const when = since === 0 ? "this epoch" : `${since} epoch${since === 1 ? "" : "s"} ago`;
      const loss = p.best.val_loss === null ? "" : `, val loss ${ffwd.number(p.best.val_loss)}`;
      said.push(h("span", { class: "fact best" }, `Best: epoch ${p.best.epoch}${loss} (${when})`));
    } else if (LIVE.has(p.state)) {
      said.push(h("span", { class: "fact best" }, "Best: none yet"));
    }
    if (LIVE.has(p.state)) {
      said.push(h("span", { class: "fact usable" },
        `Usable checkpoint: ${p.best ? "yes" : "not yet"}`));
      const left = timeLeft(p, view, rows);
      if (left !== null) said.push(h("span", { class: "fact left" }, `~${ago(left)} left`));
    }
    if (said.length) items.push(h("p", { class: "facts" }, said));
    return items;
  }

  /* Marks on a phase's curve, from its history as the timeline read it. */
  function marks(p, timeline) {
    return {
      best: p.best ? p.best.epoch : null,
      asked: timeline.stopAskedAt.get(p.id) ?? null,
      landed: timeline.stopLandedAt.get(p.id) ?? null,
    };
  }

  function drawMarks(u, chart) {
    const { ctx } = u;
    const { top, height } = u.bbox;
    const x = (epoch) => u.valToPos(epoch, "x", true);
    const m = chart.marks;
    ctx.save();
    if (m.best !== null && chart.patience) {
      const from = x(m.best);
      const to = x(Math.min(m.best + chart.patience, u.scales.x.max));
      ctx.fillStyle = COLORS.patience;
      ctx.fillRect(from, top, Math.max(0, to - from), height);
    }
    const line = (epoch, color, dash) => {
      if (epoch === null || epoch < u.scales.x.min || epoch > u.scales.x.max) return;
      ctx.strokeStyle = color;
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.setLineDash(dash.map((d) => d * devicePixelRatio));
      ctx.beginPath();
      ctx.moveTo(x(epoch), top);
      ctx.lineTo(x(epoch), top + height);
      ctx.stroke();
    };
    line(m.best, COLORS.best, []);
    line(m.asked, COLORS.asked, [6, 4]);
    line(m.landed, COLORS.landed, [2, 3]);
    ctx.restore();
  }

  /* A phase's chart: built once, given new rows as they come. */
  class Chart {
    constructor(container, p, view) {
      this.container = container;
      this.marks = { best: null, asked: null, landed: null };
      const training = (view.spec && view.spec.training) || {};
      this.patience = training.early_stopping_patience || null;
      this.private = Boolean(training.differential_privacy);
      const series = [
        { label: "epoch" },
        { label: "val loss", stroke: COLORS.val, width: 2, points: { show: false } },
        { label: "train loss", stroke: COLORS.train, width: 1.5, points: { show: false } },
      ];
      const axes = [{ label: "epoch" }, { label: "loss" }];
      const scales = { x: { time: false } };
      if (this.private) {
        series.push({ label: "ε spent", stroke: COLORS.eps, width: 1.5, scale: "eps",
          points: { show: false } });
        axes.push({ label: "ε", scale: "eps", side: 1, grid: { show: false } });
        scales.eps = { range: [0, training.differential_privacy.max_epsilon || 1] };
      }
      this.legend = h("p", { class: "curve-legend" },
        h("span", { class: "key key-best" }, "kept checkpoint"),
        h("span", { class: "key key-asked" }, "stop asked"),
        h("span", { class: "key key-landed" }, "stop landed"),
        this.patience ? h("span", { class: "key key-patience" },
          `patience (${this.patience} epochs)`) : null);
      container.replaceChildren(this.legend);
      this.plot = new uPlot({
        width: Math.max(280, container.clientWidth || 600), height: 180,
        series, axes, scales, legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        hooks: { draw: [(u) => drawMarks(u, this)] },
      }, [[], [], [], ...(this.private ? [[]] : [])], container);
      this.points = 0;
    }

    update(rows, marks) {
      this.marks = marks;
      const data = [rows.map((r) => r.epoch), rows.map((r) => r.val_loss),
        rows.map((r) => r.train_loss)];
      if (this.private) data.push(rows.map((r) => r.epsilon));
      this.plot.setData(data);
      this.points = rows.length;
      this.container.dataset.points = String(rows.length);
    }

    resize() {
      this.plot.setSize({ width: Math.max(280, this.container.clientWidth || 600), height: 180 });
    }
  }

  return { facts, marks, Chart, timeLeft, silence };
})();
