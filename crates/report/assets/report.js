// Backtide report renderer: reads the embedded JSON and draws the page.
// Exposes window.__report (what was drawn) and window.__reportReady for tests.
(function () {
  "use strict";
  const LC = window.LightweightCharts;
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const root = document.getElementById("report");
  const drawn = { kind: document.body.dataset.kind, charts: [], tables: {} };
  window.__report = drawn;

  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  };
  const card = (title, cls, parent) => {
    const c = el("section", { class: "card " + (cls || "") }, title ? el("h2", { text: title }) : null);
    (parent || root).append(c);
    return c;
  };
  const fmt = (v, digits) => {
    if (v === null || v === undefined) return "—";
    if (typeof v !== "number") return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e9 || a < 1e-4)) return v.toExponential(3);
    return v.toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 4 : digits });
  };
  // A statistic's label: the CLI table's (the report's `labels`), else made from its key.
  const label = (k) => (D.labels && D.labels[k]) || k.replace(/_pct$/, " %").replace(/_s$/, "").replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  // Seconds as days (one decimal) from a day on, below that as hours and minutes.
  const span = (s) => {
    if (s >= 86400) return (s / 86400).toFixed(1) + " days";
    if (s < 60) return Math.round(s) + "s";
    const m = Math.round(s / 60), h = Math.floor(m / 60);
    return h ? (m % 60 ? h + "h " + (m % 60) + "m" : h + "h") : m + "m";
  };
  const duration = (k, v) => (/_s$/.test(k) && typeof v === "number" ? span(v)
    : typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) ? v.replace("T", " ") : fmt(v));

  // A table whose headers sort it (numbers numerically, the rest as text). Past PAGE_ROWS
  // rows it shows one page at a time (buttons above move between pages; sorting sorts every
  // row and goes back to the first page), so a table of any length stays quick to draw.
  const PAGE_ROWS = 1000;
  drawn.pages = {};
  function sortableTable(name, columns, rows, render) {
    const table = el("table");
    const head = el("tr");
    const body = el("tbody");
    let order = { col: -1, dir: 1 };
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
    const state = { rows: rows.length, page: 0, pages, shown: 0 };
    drawn.pages[name] = state;
    const status = el("span", { class: "note" });
    const go = (p) => { state.page = Math.max(0, Math.min(pages - 1, p)); fill(); };
    const button = (text, what, to) => {
      const b = el("button", { type: "button", text, "data-page": what });
      b.addEventListener("click", () => go(to()));
      return b;
    };
    const pager = pages > 1 ? el("div", { class: "pager", "data-pager": name },
      button("« First", "first", () => 0), button("‹ Prev", "prev", () => state.page - 1), status,
      button("Next ›", "next", () => state.page + 1), button("Last »", "last", () => pages - 1)) : null;
    const fill = () => {
      const from = state.page * PAGE_ROWS;
      const shown = pages > 1 ? rows.slice(from, from + PAGE_ROWS) : rows;
      body.replaceChildren(...shown.map((r) => {
        const tr = el("tr");
        r.forEach((v, i) => tr.append(render ? render(i, v, r) : el("td", { text: fmt(v) })));
        return tr;
      }));
      state.shown = shown.length;
      status.textContent = ` rows ${(from + 1).toLocaleString()}–${(from + shown.length).toLocaleString()} of ${rows.length.toLocaleString()} (page ${state.page + 1} of ${pages}) `;
    };
    columns.forEach((c, i) => {
      const th = el("th", { class: "sortable", text: c, title: "sort" });
      th.addEventListener("click", () => {
        order = { col: i, dir: order.col === i ? -order.dir : 1 };
        rows.sort((a, b) => {
          const x = a[i], y = b[i];
          if (x === y) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * order.dir;
        });
        go(0);
      });
      head.append(th);
    });
    table.append(el("thead", {}, head), body);
    fill();
    drawn.tables[name] = rows.length;
    return pager ? el("div", {}, pager, table) : table;
  }

  const chartOptions = (height) => ({
    height,
    layout: { background: { color: "#ffffff" }, textColor: "#4a5263", fontSize: 11 },
    grid: { vertLines: { color: "#f0f2f6" }, horzLines: { color: "#f0f2f6" } },
    rightPriceScale: { borderColor: "#e3e6ee", minimumWidth: 80 },
    timeScale: { borderColor: "#e3e6ee", timeVisible: true, secondsVisible: false, minBarSpacing: 0.001 },
    crosshair: { mode: 0 },
    handleScale: { axisPressedMouseMove: { time: true, price: false } },
  });

  function addChart(parent, name, height, text) {
    const box = el("div", { class: "chart", "data-chart": name }, el("span", { class: "label", text }));
    parent.append(box);
    const chart = LC.createChart(box, Object.assign(chartOptions(height), { width: box.clientWidth || 800 }));
    const info = { name, series: 0, points: 0, markers: 0, chart };
    drawn.charts.push(info);
    new ResizeObserver(() => chart.applyOptions({ width: box.clientWidth })).observe(box);
    return info;
  }
  function series(info, kind, opts, data) {
    const s = info.chart["add" + kind + "Series"](opts);
    s.setData(data);
    info.series += 1;
    info.points += data.filter((p) => p.value !== undefined || p.close !== undefined).length;
    return s;
  }
  // Zoom and pan on one chart move all of them: they share the same time points.
  function link(charts) {
    let busy = false;
    for (const a of charts) {
      a.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
        if (busy || !range) return;
        busy = true;
        for (const b of charts) if (b !== a) b.chart.timeScale().setVisibleLogicalRange(range);
        busy = false;
      });
    }
  }

  // The first index of the sorted array `a` whose value is at least `x`.
  const lowerBound = (a, x) => {
    let lo = 0, hi = a.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] < x) lo = m + 1; else hi = m; }
    return lo;
  };

  function backtest() {
    // Times come as the first drawn point's second and each point's step from the last.
    const t = new Array(D.dt.length);
    let acc = 0;
    D.dt.forEach((d, i) => { acc += d; t[i] = acc; });
    // The comparison line: the benchmark when the run has one, else the asset held.
    const hold = D.bench || D.c.map((c) => (c === null || D.hold_scale === null ? null : c * D.hold_scale));
    const thinned = D.chart_trades < D.trades_total;
    document.getElementById("subtitle").textContent =
      `${D.from} → ${D.to} · ${D.bars.toLocaleString()} bars` +
      (D.full ? "" : ` (drawn: ${t.length.toLocaleString()} points; each bucket keeps its extremes and the marked trades' bars)`) +
      (thinned ? ` · markers for ${D.chart_trades.toLocaleString()} of ${D.trades_total.toLocaleString()} trades: the ${Math.floor(D.chart_trades / 2).toLocaleString()} with the largest |PnL| and an even sample of the rest (the table lists every trade)` : "");
    const charts = card(null, "charts");
    const price = addChart(charts, "price", 340, D.full ? "Price (candles), entries ▲▼ and exits ●, SL/TP" : "Close (downsampled), entries ▲▼ and exits ●, SL/TP");
    const priceSeries = D.full
      ? series(price, "Candlestick", { upColor: "#26a69a", downColor: "#ef5350", borderVisible: false, wickUpColor: "#26a69a", wickDownColor: "#ef5350" },
          t.map((x, i) => ({ time: x, open: D.o[i], high: D.h[i], low: D.l[i], close: D.c[i] })))
      : series(price, "Line", { color: "#2962ff", lineWidth: 1 }, t.map((x, i) => point(x, D.c[i])));
    const markers = D.markers.map(([time, kind, px, extra]) =>
      kind === "X"
        ? { time, position: "aboveBar", color: extra >= 0 ? "#1a9a6c" : "#d2453d", shape: "circle", text: "" }
        : { time, position: kind === "L" ? "belowBar" : "aboveBar", color: kind === "L" ? "#1a9a6c" : "#d2453d", shape: kind === "L" ? "arrowUp" : "arrowDown", text: "" });
    markers.sort((a, b) => a.time - b.time);
    priceSeries.setMarkers(markers);
    price.markers = markers.length;
    for (const [kind, color] of [["sl", "#d2453d"], ["tp", "#1a9a6c"]]) {
      const segs = D.levels.filter((l) => l[0] === kind);
      if (!segs.length) continue;
      const value = new Array(t.length);
      segs.sort((a, b) => a[1] - b[1]);
      for (const [, t0, t1, v] of segs) {
        for (let j = lowerBound(t, t0); j < t.length && t[j] <= t1; j++) value[j] = v;
      }
      series(price, "Line", { color, lineWidth: 1, lineStyle: 2, priceLineVisible: false, lastValueVisible: false },
        t.map((x, i) => point(x, value[i])));
    }
    const eq = addChart(charts, "equity", 200, D.bench ? `Equity vs benchmark (${D.bench_name}, from the same cash)` : "Equity vs buy-and-hold");
    series(eq, "Line", { color: "#2962ff", lineWidth: 2 }, t.map((x, i) => point(x, D.equity[i])));
    series(eq, "Line", { color: "#9aa1b1", lineWidth: 1 }, t.map((x, i) => point(x, hold[i])));
    const dd = addChart(charts, "drawdown", 130, "Drawdown %");
    series(dd, "Area", { lineColor: "#d2453d", topColor: "rgba(210,69,61,0.05)", bottomColor: "rgba(210,69,61,0.35)", lineWidth: 1, invertFilledArea: true },
      t.map((x, i) => point(x, D.dd[i])));
    const pos = addChart(charts, "position", 110, "Position (units; short below zero)");
    series(pos, "Histogram", { color: "#7e57c2", priceLineVisible: false },
      t.map((x, i) => ({ time: x, value: D.pos[i], color: D.pos[i] >= 0 ? "#26a69a" : "#ef5350" })));
    const all = [price, eq, dd, pos];
    for (const c of all) c.chart.timeScale().fitContent();
    link(all);

    const side = card("Statistics", "side");
    const st = el("table");
    for (const [k, v] of Object.entries(D.stats)) st.append(el("tr", {}, el("td", { text: label(k) }), el("td", { text: duration(k, v) })));
    if (D.bench_stats) {
      st.append(el("tr", {}, el("td", { text: "Benchmark" }), el("td", { text: D.bench_name })));
      for (const [l, v] of D.bench_stats) st.append(el("tr", {}, el("td", { text: l }), el("td", { text: fmt(v) })));
    }
    side.append(st);
    drawn.tables.stats = Object.keys(D.stats).length + (D.bench_stats ? D.bench_stats.length + 1 : 0);

    // Every closed trade, from columns: entry times as steps from the previous entry, exit
    // times as the time since the entry, in units of `unit_ms` milliseconds.
    const T = D.trades, n = T.size.length, unit = T.unit_ms;
    const rows = new Array(n);
    let entry = 0;
    for (let k = 0; k < n; k++) {
      entry += T.entry_t[k];
      const s = T.size[k];
      rows[k] = [entry, entry + T.exit_t[k], s > 0 ? "long" : "short", Math.abs(s), T.entry_px[k], T.exit_px[k], T.pnl[k], T.ret[k], T.bars[k]];
    }
    const when = (v) => {
      const d = new Date(v * unit);
      if (!isFinite(d.getTime())) return String(v);
      const s = d.toISOString().replace("T", " ").replace("Z", "");
      return unit === 1000 ? s.replace(/\.\d+$/, "") : s.replace(/\.?0+$/, "");
    };
    const tr = card(`Trades (${D.trades_total.toLocaleString()}${n > PAGE_ROWS ? `, ${PAGE_ROWS.toLocaleString()} a page` : ""}) — click a column to sort`, "wide");
    const cols = ["Entry time", "Exit time", "Side", "Size", "Entry price", "Exit price", "PnL", "Return %", "Bars"];
    tr.append(el("div", { class: "scroll" }, sortableTable("trades", cols, rows, (i, v) => {
      const td = el("td", { text: i < 2 ? when(v) : fmt(v) });
      if ((i === 6 || i === 7) && typeof v === "number") td.className = v >= 0 ? "pos" : "neg";
      return td;
    })));

    monthlyHeat();
    if (D.warnings.length) {
      const w = card(`Warnings (${D.warnings_total.toLocaleString()}${D.warnings.length < D.warnings_total ? `, first ${D.warnings.length} listed` : ""})`, "wide");
      w.append(el("div", { class: "scroll" }, el("ul", {}, ...D.warnings.map((x) => el("li", { text: x })))));
    }
  }

  // Distinct colours for the assets of the allocation chart (cash is grey).
  const PALETTE = ["#2962ff", "#26a69a", "#ff9800", "#ab47bc", "#ef5350", "#8d6e63", "#00acc1", "#c0ca33", "#ec407a", "#5c6bc0", "#66bb6a", "#ffa726"];
  const assetColor = (k) => (k < PALETTE.length ? PALETTE[k] : `hsl(${Math.round((k * 137.5) % 360)},55%,52%)`);
  const point = (time, v) => (v === null || v === undefined ? { time } : { time, value: v });

  // Shares stacked to 100 %: each layer is drawn as the running sum up to it, filled down to
  // zero, outermost first, so the opaque fills of the inner ones cover it. Shorts (negative
  // shares) and borrowed cash stack below zero the same way.
  function stacked(info, t, layers) {
    const up = new Array(t.length).fill(0), down = new Array(t.length).fill(0);
    const draws = [];
    layers.forEach((l, k) => {
      const color = l.symbol === "Cash" ? "#c9ced8" : assetColor(k);
      const pos = [], neg = [];
      let anyPos = false, anyNeg = false;
      t.forEach((x, i) => {
        const v = l.share[i];
        if (v === null || v === undefined) { pos.push({ time: x }); neg.push({ time: x }); return; }
        if (v > 0) { up[i] += v; anyPos = true; } else if (v < 0) { down[i] += v; anyNeg = true; }
        pos.push({ time: x, value: up[i] }); neg.push({ time: x, value: down[i] });
      });
      if (anyPos) draws.push([color, pos]);
      if (anyNeg) draws.push([color, neg]);
      l.color = color;
    });
    // The scale always shows zero and 100 %, and any short or leverage beyond them.
    const range = { minValue: Math.min(0, ...down), maxValue: Math.max(100, ...up) };
    const tops = up.filter((v, i) => layers.some((l) => l.share[i] !== null && l.share[i] !== undefined));
    info.stack = { max: Math.max(...tops), min_top: Math.min(...tops), min: Math.min(0, ...down) };
    for (const [color, data] of draws.reverse()) {
      series(info, "Baseline", {
        autoscaleInfoProvider: () => ({ priceRange: range }),
        baseValue: { type: "price", price: 0 }, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
        topLineColor: color, topFillColor1: color, topFillColor2: color, bottomLineColor: color, bottomFillColor1: color, bottomFillColor2: color,
        priceFormat: { type: "custom", formatter: (v) => v.toFixed(0) + " %" },
      }, data);
    }
  }

  function portfolio() {
    const t = D.t, u = D.universe || {}, st = D.strategy || {};
    const symbols = u.symbols || [];
    document.getElementById("subtitle").textContent =
      `${D.from} → ${D.to} · ${D.bars.toLocaleString()} bars · ${symbols.length} assets` +
      (D.full ? "" : ` (drawn: ${t.length.toLocaleString()} points; each bucket keeps the value's and the drawdown's extremes)`);
    // Left column: the charts, then the per-asset table; the run and statistics beside.
    const left = el("div", { class: "charts stack" });
    root.append(left);
    const charts = card(null, "", left);
    const val = addChart(charts, "value", 330, D.bench_name ? `Portfolio value vs benchmark (${D.bench_name}, from the same cash)` : "Portfolio value vs equal-weight buy-and-hold basket");
    series(val, "Line", { color: "#2962ff", lineWidth: 2 }, t.map((x, i) => point(x, D.value[i])));
    series(val, "Line", { color: "#9aa1b1", lineWidth: 1 }, t.map((x, i) => point(x, D.hold[i])));
    const dd = addChart(charts, "drawdown", 140, "Drawdown %");
    series(dd, "Area", { lineColor: "#d2453d", topColor: "rgba(210,69,61,0.05)", bottomColor: "rgba(210,69,61,0.35)", lineWidth: 1, invertFilledArea: true },
      t.map((x, i) => point(x, D.dd[i])));
    const al = addChart(charts, "allocation", 280, "Allocation: % of the value in each asset and in cash");
    al.chart.applyOptions({ rightPriceScale: { scaleMargins: { top: 0.04, bottom: 0.02 } } });
    stacked(al, t, D.alloc);
    // The legend shows the shares at the bar under the cursor (the last bar otherwise).
    const legend = el("div", { class: "legend" });
    charts.append(legend);
    const showShares = (i) => {
      legend.replaceChildren(...D.alloc.map((l) => el("span", {}, el("i", { style: `background:${l.color}` }),
        `${l.symbol} ${l.share[i] === null || l.share[i] === undefined ? "—" : l.share[i].toFixed(1) + " %"}`)));
    };
    showShares(t.length - 1);
    const index = new Map(t.map((x, i) => [x, i]));
    al.chart.subscribeCrosshairMove((p) => showShares(p && p.time !== undefined && index.has(p.time) ? index.get(p.time) : t.length - 1));
    const all = [val, dd, al];
    for (const c of all) c.chart.timeScale().fitContent();
    link(all);

    const side = el("div", { class: "side" });
    root.append(side);
    const run = card("Run", "", side);
    const params = Object.entries(st.params || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    const runRows = [
      ["Strategy", st.name], ["Parameters", params || "none"], ["Assets", symbols.join(", ")], ["Fill", u.fill], ["Call sequence", u.call_seq],
      ["Profile", D.profile], ["Starting cash", fmt(D.init_cash, 2)], ["Orders", fmt(D.orders_total)],
    ];
    run.append(el("table", {}, ...runRows.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v === undefined || v === null ? "—" : String(v) })))));
    const stats = card("Statistics", "", side);
    const stt = el("table");
    for (const [k, v] of Object.entries(D.stats || {})) stt.append(el("tr", {}, el("td", { text: label(k) }), el("td", { text: duration(k, v) })));
    if (D.bench_stats) {
      stt.append(el("tr", {}, el("td", { text: "Benchmark" }), el("td", { text: D.bench_name })));
      for (const [l, v] of D.bench_stats) stt.append(el("tr", {}, el("td", { text: l }), el("td", { text: fmt(v) })));
    }
    stats.append(stt);
    drawn.tables.stats = Object.keys(D.stats || {}).length + (D.bench_stats ? D.bench_stats.length + 1 : 0);

    // Per asset: P/L contribution and final weight as bars, sortable.
    const ac = card("Per asset — contribution to the P/L and final weight (click a column to sort)", "", left);
    const maxAbs = (i) => Math.max(1e-12, ...D.assets.map((r) => Math.abs(r[i] || 0)));
    const scale = { 5: maxAbs(5), 6: maxAbs(6) };
    ac.append(el("div", { class: "scroll" }, sortableTable("assets",
      ["Symbol", "Trades", "Orders", "Exposure %", "P/L", "Contribution %", "Final weight %"], D.assets.slice(), (i, v) => {
        const td = el("td", { text: i === 0 ? String(v) : fmt(v, 2) });
        if ((i === 4 || i === 5) && typeof v === "number") td.className = v >= 0 ? "pos" : "neg";
        if ((i === 5 || i === 6) && typeof v === "number") {
          const w = Math.round((Math.abs(v) / scale[i]) * 140);
          td.prepend(el("span", { class: "bar", style: `width:${w}px;background:${v >= 0 ? (i === 5 ? "#1a9a6c" : "#2962ff") : "#d2453d"}` }));
        }
        return td;
      })));

    // Trades, with a symbol column and a filter by symbol.
    const tr = card(`Trades (${D.trades_total.toLocaleString()}${D.trades.length < D.trades_total ? `, first ${D.trades.length.toLocaleString()} listed` : ""}) — click a column to sort`, "wide");
    const pick = el("select", { "data-filter": "symbol" }, el("option", { value: "", text: "all symbols" }), ...symbols.map((s) => el("option", { value: s, text: s })));
    const holder = el("div", { class: "scroll" });
    tr.append(el("label", { text: "Symbol:" }), pick, holder);
    const cols = ["Symbol", "Entry time", "Exit time", "Side", "Size", "Entry price", "Exit price", "PnL", "Return %", "Bars", "Commission"];
    const showTrades = () => {
      const rows = D.trades.filter((r) => !pick.value || r[0] === pick.value);
      holder.replaceChildren(sortableTable("trades", cols, rows, (i, v) => {
        const td = el("td", { text: i === 1 || i === 2 ? String(v).replace("T", " ") : fmt(v) });
        if ((i === 7 || i === 8) && typeof v === "number") td.className = v >= 0 ? "pos" : "neg";
        return td;
      }));
    };
    pick.addEventListener("change", showTrades);
    showTrades();

    if (D.open.length) {
      const oc = card(`Open positions at the end (${D.open.length})`, "wide");
      oc.append(el("div", { class: "scroll" }, sortableTable("open", ["Symbol", "Entry time", "Side", "Size", "Entry price", "Last price", "PnL"], D.open.slice(), (i, v) => {
        const td = el("td", { text: i === 1 ? String(v).replace("T", " ") : fmt(v) });
        if (i === 6 && typeof v === "number") td.className = v >= 0 ? "pos" : "neg";
        return td;
      })));
    }

    monthlyHeat();
    if (D.warnings.length) {
      const w = card(`Warnings (${D.warnings_total.toLocaleString()}${D.warnings.length < D.warnings_total ? `, first ${D.warnings.length} listed` : ""})`, "wide");
      w.append(el("div", { class: "scroll" }, el("ul", {}, ...D.warnings.map((x) => el("li", { text: x })))));
    }
  }

  function monthlyHeat() {
    const c = card("Monthly returns %", "wide");
    const years = [...new Set(D.monthly.map((m) => m[0]))];
    const by = new Map(D.monthly.map(([y, m, r]) => [y + "-" + m, r]));
    const max = Math.max(1e-9, ...D.monthly.map((m) => Math.abs(m[2] || 0)));
    const table = el("table", { class: "heat" });
    table.append(el("tr", {}, el("th", { text: "Year" }), ...["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year"].map((m) => el("th", { text: m }))));
    let cells = 0;
    for (const y of years) {
      const row = el("tr", {}, el("td", { text: String(y) }));
      let total = 1;
      for (let m = 1; m <= 12; m++) {
        const r = by.get(y + "-" + m);
        const td = el("td", { text: r === undefined || r === null ? "" : (r * 100).toFixed(1) });
        if (r !== undefined && r !== null) {
          total *= 1 + r;
          const a = Math.min(1, Math.abs(r) / max);
          td.style.background = r >= 0 ? `rgba(26,154,108,${0.1 + 0.6 * a})` : `rgba(210,69,61,${0.1 + 0.6 * a})`;
          cells++;
        }
        row.append(td);
      }
      row.append(el("td", { text: ((total - 1) * 100).toFixed(1), class: total >= 1 ? "pos" : "neg" }));
      table.append(row);
    }
    c.append(el("div", { class: "scroll" }, table));
    drawn.tables.monthly = cells;
  }

  // Diverging scale: worst red, middle pale, best green.
  function color(v, lo, hi, maximize) {
    if (v === null || !isFinite(v)) return "#f0f2f6";
    let x = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    if (!maximize) x = 1 - x;
    const mix = (a, b, f) => a.map((c, i) => Math.round(c + (b[i] - c) * f));
    const [r, g, b] = x < 0.5 ? mix([214, 72, 62], [248, 246, 232], x * 2) : mix([248, 246, 232], [26, 150, 104], (x - 0.5) * 2);
    return `rgb(${r},${g},${b})`;
  }

  function sweep() {
    const ax = D.axes, k = ax.length, obj = k;
    document.getElementById("subtitle").textContent = D.walk_forward && !D.rows.length
      ? `walk-forward: ${D.walk_forward.windows.length} windows · ${D.maximize ? "maximise" : "minimise"} ${D.objective} in each training window`
      : `${D.rows.length.toLocaleString()} combinations · ${D.maximize ? "maximise" : "minimise"} ${D.objective}` +
      (D.best ? ` · best: ${ax.map((a, i) => a + "=" + D.best[i]).join(", ")} → ${fmt(D.best[obj])}` : "");
    const finite = D.rows.map((r) => r[obj]).filter((v) => typeof v === "number" && isFinite(v));
    let side = null;
    const lo = Math.min(...finite), hi = Math.max(...finite);

    if (D.rows.length) {
      const hm = card(`Heat-map of ${D.objective} (other parameters fixed at the best)`, "charts");
      const pick = (def) => { const s = el("select"); ax.forEach((a, i) => s.append(el("option", { value: i, text: a }))); s.value = def; return s; };
      const xs = pick(0), ys = pick(Math.min(1, k - 1));
      const holder = el("div", { class: "scroll" });
      hm.append(el("label", { text: "x:" }), xs, el("label", { text: "y:" }), ys, holder);
      const draw = () => {
        const xi = +xs.value, yi = +ys.value;
        const fixed = D.best || D.rows[0];
        const rows = D.rows.filter((r) => ax.every((_, i) => i === xi || i === yi || r[i] === fixed[i]));
        const uniq = (i) => [...new Set(rows.map((r) => r[i]))].sort((a, b) => (typeof a === "number" ? a - b : String(a).localeCompare(String(b))));
        const xv = uniq(xi), yv = xi === yi ? [null] : uniq(yi);
        const at = new Map(rows.map((r) => [r[xi] + "|" + (xi === yi ? null : r[yi]), r[obj]]));
        const table = el("table", { class: "heat", "data-heatmap": "1" });
        table.append(el("tr", {}, el("th", { text: xi === yi ? "" : `${ax[yi]} \\ ${ax[xi]}` }), ...xv.map((x) => el("th", { text: String(x) }))));
        let cells = 0;
        for (const y of yv) {
          const tr = el("tr", {}, el("th", { text: y === null ? D.objective : String(y) }));
          for (const x of xv) {
            const v = at.get(x + "|" + y);
            const td = el("td", { text: v === undefined ? "" : fmt(v, 3), title: `${ax[xi]}=${x}${y === null ? "" : `, ${ax[yi]}=${y}`}: ${v}` });
            if (v !== undefined) { td.style.background = color(v, lo, hi, D.maximize); cells++; }
            tr.append(td);
          }
          table.append(tr);
        }
        holder.replaceChildren(table);
        drawn.tables.heatmap = cells;
      };
      xs.addEventListener("change", draw); ys.addEventListener("change", draw);
      draw();
      side = el("div", { class: "side" });
      root.append(side);

      const dist = card(`Distribution of ${D.objective}`, "", side);
      const bins = 30, w = 330, h = 180;
      const counts = new Array(bins).fill(0);
      for (const v of finite) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo || 1)) * bins))]++;
      const top = Math.max(1, ...counts);
      const ns = "http://www.w3.org/2000/svg";
      const svg = document.createElementNS(ns, "svg");
      svg.setAttribute("viewBox", `0 0 ${w} ${h + 18}`); svg.setAttribute("width", "100%"); svg.setAttribute("data-histogram", "1");
      counts.forEach((c, i) => {
        const r = document.createElementNS(ns, "rect");
        const bh = (c / top) * h;
        r.setAttribute("x", (i * w) / bins + 1); r.setAttribute("y", h - bh); r.setAttribute("width", w / bins - 2); r.setAttribute("height", bh);
        r.setAttribute("fill", color(lo + ((i + 0.5) / bins) * (hi - lo), lo, hi, D.maximize));
        svg.append(r);
      });
      if (D.best && typeof D.best[obj] === "number") {
        const x = ((D.best[obj] - lo) / (hi - lo || 1)) * w;
        const line = document.createElementNS(ns, "line");
        line.setAttribute("x1", x); line.setAttribute("x2", x); line.setAttribute("y1", 0); line.setAttribute("y2", h); line.setAttribute("stroke", "#1d2433"); line.setAttribute("stroke-dasharray", "3 2");
        svg.append(line);
      }
      for (const [x, v, anchor] of [[0, lo, "start"], [w, hi, "end"]]) {
        const tx = document.createElementNS(ns, "text");
        tx.setAttribute("x", x); tx.setAttribute("y", h + 14); tx.setAttribute("text-anchor", anchor); tx.textContent = fmt(v, 3);
        svg.append(tx);
      }
      dist.append(svg, el("p", { class: "note", text: `${finite.length.toLocaleString()} finite values; dashed: the best.` }));
      drawn.tables.histogram = counts.filter((c) => c > 0).length;

      const topN = card("Best combinations — click a column to sort", "wide");
      const sorted = D.rows.filter((r) => typeof r[obj] === "number").sort((a, b) => (D.maximize ? b[obj] - a[obj] : a[obj] - b[obj])).slice(0, 50);
      topN.append(el("div", { class: "scroll" }, sortableTable("top", D.columns, sorted)));
    }

    if (D.overfitting) {
      const o = D.overfitting;
      const c = card("Overfitting checks", "", side);
      const rows = [
        ["Trials (combinations)", o.trials], ["Returns per combination", o.returns], ["Best per-bar Sharpe", o.sharpe_per_bar],
        ["Probabilistic Sharpe (vs 0)", o.psr], ["Expected max Sharpe of the trials", o.expected_max_sharpe],
        ["Deflated Sharpe", o.dsr], ["Probability of backtest overfitting", o.pbo], ["CSCV blocks", o.blocks],
      ];
      c.append(el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: fmt(v) })))));
      c.append(el("p", { class: "note", text: "DSR near 1 and PBO near 0 suggest the best result is not luck of the search." }));
      drawn.tables.overfitting = rows.length;
    }

    if (D.walk_forward) {
      const wf = D.walk_forward;
      const c = card("Walk-forward: in-sample vs out-of-sample", "wide");
      const key = D.objective;
      const rows = wf.windows.map((w, i) => [i + 1, w.train.start.slice(0, 10) + " → " + w.train.end.slice(0, 10), w.test.start.slice(0, 10) + " → " + w.test.end.slice(0, 10),
        Object.entries(w.params).filter(([p]) => ax.includes(p)).map(([p, v]) => `${p}=${v}`).join(", "), w.in_sample[key], w.out_of_sample[key], w.out_of_sample.return_pct]);
      c.append(el("div", { class: "scroll" }, sortableTable("windows", ["#", "Train", "Test", "Parameters", `${key} in-sample`, `${key} out-of-sample`, "OOS return %"], rows)));
      const eq = wf.equity || [];
      if (eq.length) {
        const info = addChart(c, "oos-equity", 220, "Stitched out-of-sample equity");
        const seen = new Set();
        const pts = [];
        for (const p of eq) { const s = Math.floor(Date.parse(p.time + "Z") / 1000); if (!seen.has(s)) { seen.add(s); pts.push({ time: s, value: p.equity }); } }
        series(info, "Line", { color: "#2962ff", lineWidth: 2 }, pts);
        info.chart.timeScale().fitContent();
      }
    }
  }

  try {
    if (drawn.kind === "backtest") backtest(); else if (drawn.kind === "portfolio") portfolio(); else sweep();
  } finally {
    drawn.ms = performance.now();
    window.__reportReady = true;
  }
})();
