// Lifeboat's dashboard: every figure comes from the JSON API under /api/v1,
// sent with the session cookie and, on changes, the X-CSRF-Token header.
// The server enforces roles; this only hides what a role cannot use.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let session = null;
// skew is the server's clock less the browser's: "now" is the server's.
let skew = 0;
const serverNow = () => Date.now() + skew;

// el builds an element: attributes (on* are listeners), then children
// (strings become text, never HTML).
function el(tag, attrs, ...kids) {
  const svg = ["svg", "rect", "line", "g", "title", "text"].includes(tag);
  const e = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function showError(msg) {
  const p = $("error");
  p.textContent = msg;
  p.hidden = !msg;
}

class APIError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(method, path, body, stepped) {
  const h = { Accept: "application/json" };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (method !== "GET" && session && session.csrf_token) h["X-CSRF-Token"] = session.csrf_token;
  const r = await fetch(path, { method, headers: h, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const date = Date.parse(r.headers.get("Date") || "");
  if (!isNaN(date)) skew = date - Date.now();
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  // An action that needs a fresh second factor: ask for a code, then try
  // once more. A single sign-on session is told to log in again instead.
  if (r.status === 401 && data && data.step_up) {
    if (stepped || !session || session.kind === "sso") throw new APIError(401, data.error);
    await stepUp(data.error);
    return api(method, path, body, true);
  }
  // A refused step-up is a wrong code, not the end of the session.
  if (r.status === 401 && document.body.dataset.page !== "login" && path !== "/api/v1/session/step-up") {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new APIError(401, "logged out");
  }
  if (!r.ok) throw new APIError(r.status, (data && data.error) || r.statusText);
  return data;
}

// stepUp asks for the second factor's code in a dialog and proves it to
// the server; it fails when the user cancels.
function stepUp(why) {
  return new Promise((resolve, reject) => {
    const d = $("stepup"), form = $("stepup-form"), err = $("stepup-error");
    // The server's reason without its instructions for API clients.
    $("stepup-why").textContent = why.replace(/: POST \/api\/v1\/session\/step-up.*$/, ".");
    $("stepup-code").value = "";
    err.hidden = true;
    const done = () => { form.removeEventListener("submit", submit); $("stepup-cancel").removeEventListener("click", cancel); d.close(); };
    async function submit(e) {
      e.preventDefault();
      try {
        await api("POST", "/api/v1/session/step-up", { totp: $("stepup-code").value.trim() });
        done();
        resolve();
      } catch (x) {
        err.textContent = x.message;
        err.hidden = false;
        $("stepup-code").select();
      }
    }
    function cancel() { done(); reject(new APIError(401, "cancelled: " + why)); }
    form.addEventListener("submit", submit);
    $("stepup-cancel").addEventListener("click", cancel);
    d.showModal();
    $("stepup-code").focus();
  });
}

const can = (perm) => !!session && session.permissions.includes(perm);

// Formatting.
function dur(s) {
  if (s === undefined || s === null) return "—";
  if (s < 60) return s.toFixed(1) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  if (s < 48 * 3600) return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + Math.floor((s % 86400) / 3600) + "h";
}
const isZero = (t) => !t || t.startsWith("0001-");
function when(t) {
  if (isZero(t)) return "never";
  return new Date(t).toISOString().slice(0, 19).replace("T", " ") + " UTC";
}
function bytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function modeString(m) {
  const dir = (m & 0x80000000) !== 0;
  let s = dir ? "d" : (m & 0x8000000) ? "l" : "-";
  for (let i = 8; i >= 0; i--) s += (m >> i) & 1 ? "rwx"[(8 - i) % 3] : "-";
  return s;
}
// level is green within half the objective, amber up to it, red above.
function level(v, objective) {
  if (!objective) return "";
  if (v > objective) return "red";
  return v > objective / 2 ? "amber" : "green";
}
const levelWord = { green: "within objective", amber: "above half the objective", red: "over objective" };

// Tables: sortable by header buttons, filterable by a search box.
function sortable(table) {
  for (const th of table.querySelectorAll("th[data-key]")) {
    const b = el("button", { type: "button", class: "sort" }, th.textContent);
    th.textContent = "";
    th.append(b);
    b.addEventListener("click", () => {
      const asc = th.getAttribute("aria-sort") !== "ascending";
      for (const o of table.querySelectorAll("th")) o.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      const key = th.dataset.key;
      const rows = [...table.tBodies[0].rows];
      const val = (r) => r.dataset["k" + key] ?? "";
      rows.sort((a, b) => {
        const x = val(a), y = val(b);
        const nx = parseFloat(x), ny = parseFloat(y);
        const c = !isNaN(nx) && !isNaN(ny) && String(nx) === x && String(ny) === y ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      table.tBodies[0].append(...rows);
    });
  }
}
function filters() {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    input.addEventListener("input", () => applyFilter(input));
  }
}
function applyFilter(input) {
  const q = input.value.trim().toLowerCase();
  for (const r of $(input.dataset.filter).tBodies[0].rows) r.hidden = q !== "" && !r.textContent.toLowerCase().includes(q);
}
// row makes a table row with sort keys (k-prefixed data attributes);
// tagged(name, value) names the row for the code that finds it again.
function row(keys, ...cells) {
  const tr = el("tr");
  for (const [k, v] of Object.entries(keys)) tr.dataset["k" + k] = String(v);
  tr.append(...cells);
  tr.tagged = (name, value) => { tr.dataset[name] = value; return tr; };
  return tr;
}
function fill(id, rows, empty) {
  const body = $(id).tBodies[0];
  const heads = [...$(id).tHead.rows[0].cells].map((c) => c.textContent.trim());
  for (const r of rows) [...r.cells].forEach((c, i) => { if (heads[i]) c.dataset.label = heads[i]; });
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: $(id).tHead.rows[0].cells.length, class: "empty" }, empty)));
  const f = document.querySelector(`input[data-filter="${id}"]`);
  if (f) applyFilter(f);
}

// Jobs: an action's job is followed on the jobs page.
// maskedExport downloads a masked export of a database source: a gzip SQL
// file the stock client loads, without the personal data its masking rules
// cover.
async function maskedExport(name, button) {
  showError("");
  button.disabled = true;
  try {
    const r = await fetch(`/api/v1/sources/${encodeURIComponent(name)}/export`, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf_token }, body: JSON.stringify({ masked: true }) });
    if (!r.ok) {
      const data = await r.json().catch(() => null);
      throw new Error((data && data.error) || r.statusText);
    }
    const file = (/filename="?([^";]+)"?/.exec(r.headers.get("Content-Disposition") || "") || [])[1] || name + "-masked.sql.gz";
    const a = el("a", { href: URL.createObjectURL(await r.blob()), download: file, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    button.dataset.done = file;
  } catch (e) {
    showError(`masked export of ${name}: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

function followJob(job) {
  location.href = "/jobs?job=" + encodeURIComponent(job.id);
}
function stream(id, on) {
  const es = new EventSource("/api/v1/jobs/" + encodeURIComponent(id) + "/events");
  for (const k of ["started", "step", "bytes", "finished", "failed"]) es.addEventListener(k, (e) => on(k, JSON.parse(e.data)));
  es.addEventListener("end", (e) => { es.close(); on("end", JSON.parse(e.data)); });
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) on("lost", null); };
  return es;
}
function eventLine(kind, ev) {
  if (kind === "end") return `${when(ev.end)} job ${ev.state}${ev.error ? ": " + ev.error : ""}`;
  let s = `${when(ev.at)} ${ev.op || ""}${ev.source ? " " + ev.source : ""}: ${kind}`;
  if (ev.step) s += " " + ev.step;
  if (ev.total) s += ` ${bytes(ev.done || 0)} of ${bytes(ev.total)}`;
  else if (ev.done) s += " " + bytes(ev.done);
  if (ev.error) s += " " + ev.error;
  return s;
}

// Pages.
const pages = {};

pages.login = () => {
  const sso = $("sso-login");
  const next = params.get("next");
  if (sso && next) sso.href = "/api/v1/session/oidc?next=" + encodeURIComponent(next);
  // A refused single sign-on comes back here with the server's reason.
  if (params.get("sso_error")) showError(params.get("sso_error"));
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    showError("");
    try {
      await api("POST", "/api/v1/session", { user: $("user").value, password: $("password").value, totp: $("totp").value });
      const next = params.get("next");
      location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
    } catch (err) {
      showError(err.message);
      $("password").value = "";
      $("totp").value = "";
      $("password").focus();
    }
  });
  $("user").focus();
};

pages.overview = async () => {
  const st = await api("GET", "/api/v1/status");
  const alerts = [];
  for (const s of st.sources) if (!s.ok) alerts.push(el("li", { class: "red", "data-source": s.name }, el("strong", {}, s.name), ": " + s.problem));
  for (const c of st.copies) if (isZero(c.replicated)) alerts.push(el("li", { class: "amber" }, el("strong", {}, "copy " + c.name), ": never replicated"));
  if (st.running_jobs) alerts.push(el("li", { class: "info" }, el("a", { href: "/jobs" }, `${st.running_jobs} job(s) running`)));
  $("alerts").replaceChildren(...(alerts.length ? alerts : [el("li", { class: "green" }, "No alerts: every source is within its objective.")]));
  fill("sources-table", st.sources.map(sourceRow), "No sources configured.");
};

function sourceRow(s) {
  const rpoLevel = isZero(s.restorable) ? "red" : level(s.rpo_seconds, s.rpo_objective_seconds);
  const rpo = el("td", { class: "c-rpo " + rpoLevel, title: levelWord[rpoLevel] || "" },
    isZero(s.restorable) ? "nothing restorable" : `${dur(s.rpo_seconds)} / ${dur(s.rpo_objective_seconds)}`);
  const d = s.last_drill;
  const rtoLevel = d ? (d.ok ? level(d.rto_seconds, d.rto_objective_seconds) : "red") : "";
  const rto = el("td", { class: "c-rto " + rtoLevel }, d ? `${dur(d.rto_seconds)} / ${dur(d.rto_objective_seconds)}` : "never drilled",
    d ? el("span", { class: "kind" }, d.plan + (d.ok ? "" : ", failed")) : null);
  const v = s.verify, t = s.restore_test;
  const verify = el("td", { class: "c-verify " + (v ? (v.OK ? "" : "red") : "amber") }, v ? `${v.OK ? "ok" : "PROBLEMS"} ${when(v.At)}` : "never");
  // A masked restore test (verify.masked) records "N masked tables".
  const test = el("td", { class: "c-test " + (t ? (t.OK ? "" : "red") : "amber") },
    t ? `${t.OK ? "ok" : "FAILED"} ${when(t.At)}${/ masked tables$/.test(t.Checked || "") ? " (masked copy)" : ""}` : "never");
  const c = s.copies;
  const copies = el("td", { class: "c-copies " + (c.meets_3_2_1 ? "green" : "amber"), title: (c.where || []).join(", ") },
    `${c.copies} copies, ${c.media} media, ${c.offsite} off site ${c.meets_3_2_1 ? "✓" : "✗"}`);
  copies.setAttribute("aria-label", `${c.copies} copies on ${c.media} media, ${c.offsite} off site: ${c.meets_3_2_1 ? "meets" : "does not meet"} 3-2-1`);
  const counts = { backups: 0, failed: 0, overdue: 0 };
  const strip = el("span", { class: "strip" }, (s.days || []).map((day) => {
    counts.backups += day.backups ? 1 : 0; counts.failed += day.failed ? 1 : 0; counts.overdue += day.overdue ? 1 : 0;
    const cls = day.failed ? "fail" : day.overdue ? "overdue" : day.backups ? "ok" : "none";
    return el("span", { class: "day " + cls, title: `${day.date}: ${day.backups} backup(s), ${day.failed} failure(s)${day.overdue ? ", overdue" : ""}` });
  }));
  strip.setAttribute("role", "img");
  strip.setAttribute("aria-label", `last 30 days: ${counts.backups} with a backup, ${counts.failed} with a failure, ${counts.overdue} overdue`);
  const actions = el("td", { class: "actions" });
  if (can("operate")) {
    actions.append(el("button", { type: "button", "data-action": "backup", "aria-label": "Back up " + s.name + " now", onclick: async () => {
      try { followJob(await api("POST", `/api/v1/sources/${encodeURIComponent(s.name)}/backup`, { type: "full" })); } catch (e) { showError(e.message); }
    } }, "Back up"));
  }
  // A masked export in permissive mode may let an unclassified column
  // through: the API asks download-data for it, as for an unmasked one.
  if (s.masking && can(s.masking === "strict" ? "masked-copy" : "download-data")) {
    actions.append(el("button", { type: "button", "data-action": "masked-export", "aria-label": "Download a masked export of " + s.name,
      onclick: (e) => maskedExport(s.name, e.currentTarget) }, "Masked export"));
  }
  if (can("restore-scratch")) actions.append(el("a", { class: "button", "data-action": "restore", href: "/restore?source=" + encodeURIComponent(s.name), "aria-label": "Restore " + s.name }, "Restore"));
  return row({ name: s.name, tier: s.tier, last: s.last_backup || "", restorable: s.restorable || "", rpo: s.rpo_seconds / (s.rpo_objective_seconds || 1),
    rto: d ? d.rto_seconds : -1, verify: v ? v.At : "", test: t ? t.At : "", copies: c.copies },
  el("th", { scope: "row", class: "c-name" }, el("a", { href: "/timeline?source=" + encodeURIComponent(s.name) }, s.name), el("span", { class: "kind" }, s.kind)),
  el("td", { class: "c-tier" }, s.tier),
  el("td", { class: "c-last" }, when(s.last_backup) + (s.last_type ? " (" + s.last_type + ")" : "")),
  el("td", { class: "c-restorable" }, isZero(s.restorable) ? (s.restorable_error || "none") : when(s.restorable)),
  rpo, rto, verify, test, copies, el("td", {}, strip), actions).tagged("source", s.name);
}

pages.jobs = async () => {
  const logs = new Map();
  const streams = new Map();
  const focus = params.get("job");
  const show = (id) => { $("job-log").textContent = (logs.get(id) || []).join("\n"); $("log-h").textContent = "Log of " + id; };
  const load = async () => {
    const jobs = await api("GET", "/api/v1/jobs");
    fill("jobs-table", jobs.map((j) => {
      const progress = el("td", { class: "c-progress", id: "progress-" + j.id }, j.state === "running" ? "…" : j.error || "");
      const actions = el("td", { class: "actions" }, el("button", { type: "button", onclick: () => { show(j.id); }, "aria-label": "Show the log of " + j.id }, "Log"));
      if (j.state === "running" && can("operate")) {
        actions.append(el("button", { type: "button", "data-action": "cancel", "aria-label": "Cancel " + j.id, onclick: async () => {
          try { await api("DELETE", "/api/v1/jobs/" + encodeURIComponent(j.id)); } catch (e) { showError(e.message); }
        } }, "Cancel"));
      }
      return row({ id: j.id, action: j.action, source: j.source || "", by: j.by, state: j.state, start: j.start },
        el("td", {}, j.id), el("td", {}, j.action), el("td", {}, j.source || ""), el("td", {}, j.by),
        el("td", { class: "c-state " + ({ succeeded: "green", failed: "red", cancelled: "amber" }[j.state] || "") }, j.state),
        el("td", {}, when(j.start)), progress, actions).tagged("job", j.id);
    }), "No jobs since the daemon started.");
    for (const j of jobs) {
      if (streams.has(j.id) || (j.state !== "running" && j.id !== focus)) continue;
      logs.set(j.id, []);
      streams.set(j.id, stream(j.id, (kind, ev) => {
        if (!ev) return;
        logs.get(j.id).push(eventLine(kind, ev));
        const cell = $("progress-" + j.id);
        if (cell && kind !== "end") cell.textContent = ev.total ? Math.round((100 * ev.done) / ev.total) + "% " + (ev.step || "") : ev.step || kind;
        if ($("log-h").textContent === "Log of " + j.id) show(j.id);
        if (kind === "end" && j.state === "running") load();
      }));
    }
  };
  await load();
  if (focus) show(focus);
};

// sourcesList fills a select with the sources, choosing ?source=.
async function sourcesList(select) {
  const srcs = await api("GET", "/api/v1/sources");
  select.replaceChildren(...srcs.map((s) => el("option", { value: s.name, selected: s.name === params.get("source") }, `${s.name} (${s.kind})`)));
  return srcs;
}
async function backups(name) {
  const snaps = await api("GET", "/api/v1/snapshots?source=" + encodeURIComponent(name));
  return snaps.filter((s) => s.role === "backup");
}
// coverage is a database source's binlog archive, null for others.
async function coverage(src) {
  if (!src || src.kind !== "mysql") return null;
  return api("GET", `/api/v1/sources/${encodeURIComponent(src.name)}/binlog`);
}
// recoverable says whether instant t (ms) can be recovered to, and why not.
function recoverable(arch, t) {
  for (const g of arch.gaps) if (t > Date.parse(g.From) && t < Date.parse(g.At)) return `inside a gap of the binlog archive (${g.Reason || "events missing"})`;
  // An event known to the second counts as that second's end, as the
  // restore counts it.
  const end = (iso) => { const ms = Date.parse(iso); return ms % 1000 === 0 ? ms + 999 : ms; };
  for (const r of arch.ranges) if (t >= Date.parse(r.from) && t <= end(r.to)) return "";
  return "outside the binlog archive's coverage";
}

pages.timeline = async () => {
  const srcs = await sourcesList($("tl-source"));
  const draw = async () => {
    const src = srcs.find((s) => s.name === $("tl-source").value);
    if (!src) return;
    history.replaceState(null, "", "/timeline?source=" + encodeURIComponent(src.name));
    const [snaps, arch] = await Promise.all([backups(src.name), coverage(src)]);
    const now = serverNow();
    // The axis runs from the first backup (ten seconds at least) to now.
    let lo = now - 10e3;
    for (const s of snaps) lo = Math.min(lo, Date.parse(s.time));
    if (arch) for (const r of arch.ranges) lo = Math.min(lo, Date.parse(r.from));
    lo -= (now - lo) * 0.04;
    // The server's clock is known to the second: the newest backup may be
    // a little "after" now, and is still drawn.
    let top = now;
    for (const s of snaps) top = Math.max(top, Date.parse(s.time));
    if (arch) for (const r of arch.ranges) top = Math.max(top, Date.parse(r.to));
    const hi = top + (top - lo) * 0.02;
    const W = 1000, x = (t) => ((t - lo) / (hi - lo)) * W;
    const svg = el("svg", { viewBox: `0 0 ${W} 80`, class: "tl", role: "img", "aria-label": "Timeline of " + src.name });
    svg.append(el("line", { x1: 0, x2: W, y1: 40, y2: 40, class: "axis" }));
    if (arch) {
      for (const r of arch.ranges) svg.append(el("rect", { x: x(Date.parse(r.from)), width: Math.max(2, x(Date.parse(r.to)) - x(Date.parse(r.from))), y: 28, height: 24, class: "band" },
        el("title", {}, `recoverable from ${when(r.from)} to ${when(r.to)}`)));
      arch.gaps.forEach((g, i) => svg.append(el("rect", { x: x(Date.parse(g.From)), width: Math.max(3, x(Date.parse(g.At)) - x(Date.parse(g.From))), y: 24, height: 32, class: "gap", "data-gap": i },
        el("title", {}, `gap from ${when(g.From)} to ${when(g.At)}: ${g.Reason}`))));
    }
    for (const s of snaps) svg.append(el("line", { x1: x(Date.parse(s.time)), x2: x(Date.parse(s.time)), y1: 10, y2: 70, class: "tick " + (s.type === "full" ? "full" : "inc") },
      el("title", {}, `${s.type} ${when(s.time)} ${s.id}`)));
    svg.append(el("text", { x: 2, y: 78, class: "lbl" }, when(new Date(lo).toISOString())), el("text", { x: x(now), y: 78, class: "lbl end" }, "now"));
    svg.addEventListener("click", (e) => {
      const box = svg.getBoundingClientRect();
      let t = lo + ((e.clientX - box.left) / box.width) * (hi - lo);
      // A click on a gap's red is in the gap, even where it is drawn wider.
      const g = e.target.dataset && e.target.dataset.gap;
      if (g !== undefined) t = (Date.parse(arch.gaps[g].From) + Date.parse(arch.gaps[g].At)) / 2;
      pick(src, snaps, arch, t);
    });
    $("tl").replaceChildren(svg);
    const first = arch && arch.ranges.length ? arch.ranges[0].from : snaps.length ? snaps[0].time : "";
    const last = arch && arch.ranges.length ? arch.ranges[arch.ranges.length - 1].to : snaps.length ? snaps[snaps.length - 1].time : "";
    $("tl-summary").textContent = snaps.length || arch ? `Earliest recoverable: ${when(first)}. Latest: ${when(last)}.` + (arch ? ` ${arch.gaps.length} gap(s) in the binlog archive.` : "") : "No backups yet.";
    $("tl-pick").textContent = "";
    fill("tl-table", snaps.slice().reverse().map((s) => row({}, el("td", {}, when(s.time)), el("td", {}, s.type), el("td", {}, el("code", {}, s.id.slice(0, 12))),
      el("td", {}, can("restore-scratch") ? el("a", { href: `/restore?source=${encodeURIComponent(src.name)}&snapshot=${encodeURIComponent(s.id)}`, "aria-label": "Restore " + s.id }, "Restore this") : ""))), "No backups yet.");
  };
  $("tl-source").addEventListener("change", draw);
  await draw();
};

// pick opens the restore wizard at the instant clicked, unless it cannot be
// recovered to.
function pick(src, snaps, arch, t) {
  const iso = new Date(Math.floor(t)).toISOString().replace(".000Z", "Z");
  if (arch) {
    const why = recoverable(arch, t);
    if (why) { $("tl-pick").textContent = `${when(iso)} cannot be chosen: it is ${why}.`; $("tl-pick").className = "red"; return; }
    location.href = `/restore?source=${encodeURIComponent(src.name)}&to_time=${encodeURIComponent(iso)}`;
    return;
  }
  const before = snaps.filter((s) => Date.parse(s.time) <= t).pop();
  if (!before) { $("tl-pick").textContent = `Nothing was backed up before ${when(iso)}.`; $("tl-pick").className = "red"; return; }
  location.href = `/restore?source=${encodeURIComponent(src.name)}&snapshot=${encodeURIComponent(before.id)}`;
}

pages.restore = async () => {
  const srcs = await sourcesList($("r-source"));
  let snaps = [], arch = null;
  const cur = () => srcs.find((s) => s.name === $("r-source").value);
  const change = async () => {
    const src = cur();
    const db = src && src.kind === "mysql";
    $("r-time-row").hidden = !db; $("r-db-row").hidden = !db; $("r-folder-row").hidden = db;
    // A masked copy only of a source with masking rules.
    $("r-mask-row").hidden = !(db && src.masking);
    if ($("r-mask-row").hidden) $("r-masked").checked = false;
    [snaps, arch] = await Promise.all([backups(src.name), coverage(src)]);
    const want = params.get("snapshot");
    $("r-snapshot").replaceChildren(el("option", { value: "latest" }, "the newest"),
      ...snaps.slice().reverse().map((s) => el("option", { value: s.id, selected: s.id === want }, `${when(s.time)} ${s.type} ${s.id.slice(0, 12)}`)));
    $("r-time").value = db ? params.get("to_time") || "" : "";
    $("r-plan-box").hidden = true;
  };
  $("r-source").addEventListener("change", change);
  const prod = $("r-prod");
  if (prod) prod.addEventListener("change", () => { $("r-confirm-row").hidden = !prod.checked; });
  await change();
  $("r-plan").addEventListener("click", () => { try { plan(); } catch (e) { showError(e.message); } });
  let req = null;
  const plan = () => {
    showError("");
    const src = cur(), db = src.kind === "mysql", production = !!(prod && prod.checked);
    req = { source: src.name, snapshot: $("r-snapshot").value };
    const items = [["Source", `${src.name} (${src.kind})`]];
    const t = db ? $("r-time").value.trim() : "";
    if (t) {
      const ms = Date.parse(t);
      if (isNaN(ms)) throw new Error(`${t} is not an instant: write it as 2026-01-02T15:04:05Z`);
      const why = arch ? recoverable(arch, ms) : "";
      if (why) throw new Error(`${when(t)} cannot be chosen: it is ${why}.`);
      req.to_time = new Date(ms).toISOString().replace(".000Z", "Z");
      delete req.snapshot;
      const base = snaps.filter((s) => s.type === "full" && Date.parse(s.time) <= ms).pop();
      items.push(["To the instant", when(req.to_time)], ["From", (base ? `full backup ${base.id.slice(0, 12)} of ${when(base.time)}` : "the newest full backup before it") + ", then the binlog archive up to the instant"]);
    } else {
      const s = req.snapshot === "latest" ? snaps[snaps.length - 1] : snaps.find((x) => x.id === req.snapshot);
      if (!s) throw new Error(`${src.name} has no backup to restore yet`);
      items.push(["From", `${s.type} backup ${s.id.slice(0, 12)} of ${when(s.time)} (${s.files} files, ${bytes(s.bytes)})`]);
    }
    if (production) {
      if ($("r-confirm").value !== src.name) throw new Error(`type the source's name, ${src.name}, to restore over production`);
      req.overwrite = true;
      if (!db) req.target = $("r-target").value.trim();
      items.push(["Into", "PRODUCTION: " + (db ? "the source's own databases" : req.target) + ", after a safety snapshot"]);
    } else if (db) {
      req.database = $("r-database").value.trim();
      if (!req.database) throw new Error("give the name of a scratch database to restore into");
      items.push(["Into", "scratch database " + req.database]);
    } else {
      req.target = $("r-target").value.trim();
      if (!req.target.startsWith("/")) throw new Error("give the absolute path of an empty or new folder to restore into");
      items.push(["Into", "scratch folder " + req.target]);
    }
    if (db && $("r-masked").checked) {
      req.masked = true;
      items.push(["Masked", `yes: ${src.name}'s masking rules (${src.masking} mode) replace personal data before a row reaches the server`]);
    }
    const d = src.last_drill;
    items.push(["Last drill", d ? `${dur(d.rto_seconds)} (plan ${d.plan}, ${when(d.at)}; objective ${dur(d.rto_objective_seconds)})` : "never drilled"]);
    $("r-plan-list").replaceChildren(...items.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    $("r-plan-box").hidden = false;
    $("r-run").focus();
  };
  $("r-run").addEventListener("click", async () => {
    showError("");
    let job;
    try { job = await api("POST", "/api/v1/restore", req); } catch (e) { showError(e.message); return; }
    $("r-progress-box").hidden = false;
    $("r-result").replaceChildren();
    const lines = [];
    stream(job.id, (kind, ev) => {
      if (!ev) return;
      lines.push(eventLine(kind, ev));
      $("r-log").textContent = lines.join("\n");
      if (ev.total) $("r-progress").value = (100 * ev.done) / ev.total;
      if (kind === "end") result(ev);
    });
  });
};

// result lists a finished restore's outcome and checks.
function result(job) {
  const items = [el("li", { class: job.state === "succeeded" ? "green" : "red", id: "r-state" }, `Restore ${job.state}` + (job.error ? ": " + job.error : ""))];
  if (job.state === "succeeded") $("r-progress").value = 100;
  const res = job.result || {};
  const check = (ok, text) => items.push(el("li", { class: ok ? "green" : "red" }, (ok ? "✓ " : "✗ ") + text));
  const snap = res.Snapshot, st = res.Restored && res.Restored.Stats;
  if (snap) items.push(el("li", {}, `From ${snap.type} backup ${snap.id.slice(0, 12)} of ${when(snap.time)}`));
  if (snap && st) {
    check(st.Files === snap.files, `${st.Files} of the snapshot's ${snap.files} files restored`);
    check(st.Bytes === snap.bytes, `${bytes(st.Bytes)} of the snapshot's ${bytes(snap.bytes)} restored`);
  }
  const safety = res.Restored && res.Restored.Safety;
  if (safety) items.push(el("li", { id: "r-safety" }, `Safety snapshot ${safety.id.slice(0, 12)} of ${when(safety.time)} keeps what the restore overwrote`));
  if (res.Took) items.push(el("li", {}, "Took " + dur(res.Took / 1e9)));
  // Anything else the result says (a database restore's checks) as it is.
  const walk = (o, pre) => {
    for (const [k, v] of Object.entries(o || {})) {
      if (["Snapshot", "Restored", "Took"].includes(k) && pre === "") continue;
      if (v && typeof v === "object" && !Array.isArray(v)) walk(v, pre + k + ".");
      else if (v !== null) items.push(el("li", {}, `${pre}${k}: ${Array.isArray(v) ? v.join(", ") : v}`));
    }
  };
  walk(res, "");
  $("r-result").replaceChildren(...items);
}

// tableChanges lists the tables of two database full backups whose row
// count or checksum differ (added and removed tables too), or null when
// either is not a database dump.
function tableChanges(then, now) {
  const tables = (s) => {
    try {
      const meta = JSON.parse(s.extra.mysql);
      return new Map(meta.databases.flatMap((d) => d.tables.map((t) => [`${d.name}.${t.name}`, t])));
    } catch (e) { return null; }
  };
  const a = then && tables(then), b = now && tables(now);
  if (!a || !b) return null;
  const desc = (t) => (t ? `${t.rows} rows, checksum ${String(t.checksum).replace(/^[a-z0-9]+sum:/, "").slice(0, 16)}` : "");
  const out = [];
  for (const [name, t] of b) {
    const o = a.get(name);
    if (!o) out.push(["added", name, "", desc(t)]);
    else if (o.rows !== t.rows || o.checksum !== t.checksum) out.push(["rows differ", name, desc(o), desc(t)]);
  }
  for (const [name, o] of a) if (!b.has(name)) out.push(["removed", name, desc(o), ""]);
  return out.sort((x, y) => x[1].localeCompare(y[1]));
}

pages.browse = async () => {
  await sourcesList($("b-source"));
  let entries = [], snap = "", dir = "", snapList = [];
  const render = () => {
    const depth = dir === "" ? 0 : dir.split("/").length;
    const kids = entries.filter((e) => e.path !== dir && (dir === "" || e.path.startsWith(dir + "/")) && e.path.split("/").length === depth + 1);
    const crumbs = [el("button", { type: "button", onclick: () => { dir = ""; render(); } }, "/")];
    let acc = "";
    for (const part of dir ? dir.split("/") : []) {
      acc = acc ? acc + "/" + part : part;
      const to = acc;
      crumbs.push(" / ", el("button", { type: "button", onclick: () => { dir = to; render(); } }, part));
    }
    $("b-crumbs").replaceChildren(...crumbs);
    fill("tree-table", kids.map((e) => {
      const name = e.path.split("/").pop();
      const isDir = e.type === "dir";
      const link = isDir ? el("button", { type: "button", class: "link", onclick: () => { dir = e.path; render(); } }, name + "/") : name;
      const dl = !isDir && can("download-data") ? el("a", { href: `/api/v1/snapshots/${encodeURIComponent(snap)}/file?path=${encodeURIComponent(e.path)}`, download: name, "aria-label": "Download " + name }, "Download") : "";
      return row({ name: (isDir ? "0" : "1") + name, size: e.size, mode: modeString(e.mode), mtime: e.mtime },
        el("td", { class: isDir ? "dir" : "" }, link), el("td", { class: "num" }, isDir ? "" : bytes(e.size)), el("td", {}, el("code", {}, modeString(e.mode))),
        el("td", {}, when(e.mtime)), el("td", {}, dl));
    }), "Empty.");
  };
  const open = async () => {
    snap = $("b-snapshot").value;
    dir = "";
    entries = snap ? await api("GET", `/api/v1/snapshots/${encodeURIComponent(snap)}/tree`) : [];
    entries = entries.map((e) => ({ ...e, path: e.path.replace(/^\/+|\/+$/g, "") })).filter((e) => e.path !== "");
    render();
    await showPin();
  };
  const compare = async () => {
    const other = $("b-other").value;
    if (!other) return;
    const older = (await api("GET", `/api/v1/snapshots/${encodeURIComponent(other)}/tree`)).map((e) => ({ ...e, path: e.path.replace(/^\/+|\/+$/g, "") }));
    const files = (list) => new Map(list.filter((e) => e.type !== "dir").map((e) => [e.path, e]));
    const then = files(older), now = files(entries);
    const desc = (e) => (e ? `${bytes(e.size)}, ${modeString(e.mode)}, ${when(e.mtime)}` : "");
    const rows = [];
    for (const [p, e] of now) {
      const o = then.get(p);
      if (!o) rows.push(["added", p, null, e]);
      else if (o.size !== e.size || o.mtime !== e.mtime || o.mode !== e.mode) rows.push(["changed", p, o, e]);
    }
    for (const [p, o] of then) if (!now.has(p)) rows.push(["removed", p, o, null]);
    rows.sort((a, b) => a[1].localeCompare(b[1]));
    // A database's full backups also carry each table's row count and
    // checksum: the tables whose rows differ come first.
    const tables = tableChanges(snapList.find((x) => x.id === other), snapList.find((x) => x.id === snap));
    const n = (k) => rows.filter((r) => r[0] === k).length;
    $("cmp-summary").textContent = `${n("added")} added, ${n("removed")} removed, ${n("changed")} changed (size, mode or time) since ${$("b-other").selectedOptions[0].textContent}` +
      (tables ? `; ${tables.length} table(s) whose rows differ.` : ".");
    rows.unshift(...(tables || []));
    $("cmp-table").hidden = false;
    const cell = (x) => (typeof x === "string" ? x : desc(x));
    fill("cmp-table", rows.map(([k, p, o, e]) => row({ change: k, path: p }, el("td", { class: { added: "green", removed: "red", changed: "amber", "rows differ": "amber" }[k] }, k),
      el("td", {}, p), el("td", {}, cell(o)), el("td", {}, cell(e)))), "No file differs.");
  };
  $("b-compare").addEventListener("click", () => compare().catch((e) => showError(e.message)));
  // Pins and prune (the section is gone without the prune permission; the
  // server refuses them anyway).
  const showPin = async () => {
    if (!$("pin-state")) return;
    const pins = await api("GET", "/api/v1/pins");
    const p = pins[snap];
    $("pin-state").textContent = !snap ? "" : p ? `Pinned by ${p.by} at ${when(p.at)}: ${p.reason}. Prune keeps it.` :
      "Not pinned: prune keeps it while the retention rules do.";
    $("pin").hidden = !!p;
    $("pin-reason").hidden = !!p;
    $("pin-reason").labels[0].hidden = !!p;
    $("unpin").hidden = !p;
  };
  const pinning = async (on) => {
    showError("");
    try {
      await api("POST", `/api/v1/snapshots/${encodeURIComponent(snap)}/${on ? "pin" : "unpin"}`, on ? { reason: $("pin-reason").value.trim() } : {});
      $("pin-reason").value = "";
      await showPin();
    } catch (e) { showError(e.message); }
  };
  const prune = async (dry) => {
    showError("");
    try { followJob(await api("POST", "/api/v1/prune", { sources: [$("b-source").value], dry_run: dry })); } catch (e) { showError(e.message); }
  };
  if ($("pin")) {
    $("pin").addEventListener("click", () => pinning(true));
    $("unpin").addEventListener("click", () => pinning(false));
    $("prune-preview").addEventListener("click", () => prune(true));
    $("prune-run").addEventListener("click", () => prune(false));
  }
  const change = async () => {
    const snaps = await backups($("b-source").value);
    snapList = snaps;
    $("b-other").replaceChildren(...snaps.slice().reverse().map((s) => el("option", { value: s.id }, `${when(s.time)} ${s.type} ${s.id.slice(0, 12)}`)));
    $("b-snapshot").replaceChildren(...snaps.slice().reverse().map((s) => el("option", { value: s.id, selected: s.id === params.get("snapshot") }, `${when(s.time)} ${s.type} ${s.id.slice(0, 12)}`)));
    await open();
  };
  $("b-source").addEventListener("change", change);
  $("b-snapshot").addEventListener("change", open);
  await change();
};

pages.audit = async () => {
  let recs;
  try {
    [recs] = await Promise.all([api("GET", "/api/v1/audit"), api("GET", "/api/v1/audit/chain").then((c) => {
      $("chain").textContent = c.intact ? `Chain intact: ${c.records} records, up to #${c.last}.` + (c.note ? " " + c.note : "") : "Chain BROKEN at the first bad record: " + c.broken;
      $("chain").className = "chain " + (c.intact ? "green" : "red");
    })]);
  } catch (e) {
    if (e.status === 403) { $("chain").textContent = "Your role does not read the audit trail."; return; }
    throw e;
  }
  const f = $("audit-filters");
  const apply = () => {
    const user = $("a-user").value.toLowerCase(), action = $("a-action").value.toLowerCase(), source = $("a-source").value.toLowerCase();
    const since = $("a-since").value, until = $("a-until").value;
    fill("audit-table", recs.filter((r) => r.actor.toLowerCase().includes(user) && r.action.toLowerCase().includes(action) && (r.source || "").toLowerCase().includes(source) &&
      (!since || r.time.slice(0, 10) >= since) && (!until || r.time.slice(0, 10) <= until)).reverse().map((r) =>
      row({ seq: r.seq, time: r.time, actor: r.actor, action: r.action, source: r.source || "", outcome: r.outcome, detail: r.detail || "" },
        el("td", { class: "num" }, String(r.seq)), el("td", {}, when(r.time)), el("td", {}, r.actor), el("td", {}, r.action), el("td", {}, r.source || ""),
        el("td", { class: r.outcome === "ok" ? "" : "red" }, r.outcome), el("td", { class: "detail" }, r.detail || ""))), "No records match.");
  };
  f.addEventListener("input", apply);
  f.addEventListener("submit", (e) => e.preventDefault());
  apply();
};

pages.copies = async () => {
  const cps = await api("GET", "/api/v1/copies");
  fill("copies-table", cps.map((c) => {
    const rest = Object.entries(c.restorable || {}).map(([s, t]) => `${s}: ${when(t)}`).join("; ");
    const actions = el("td", { class: "actions" });
    if (can("operate")) actions.append(el("button", { type: "button", "data-action": "replicate", "aria-label": "Replicate to " + c.name, onclick: async () => {
      try { followJob(await api("POST", "/api/v1/replicate", { copy: c.name })); } catch (e) { showError(e.message); }
    } }, "Replicate"));
    return row({ name: c.name, medium: c.medium, place: c.location, replicated: c.replicated || "" },
      el("td", {}, c.name), el("td", {}, c.medium), el("td", {}, c.location + (c.offsite ? " (off site)" : "") + (c.offline ? " (offline)" : "")),
      el("td", { class: isZero(c.replicated) ? "amber" : "" }, when(c.replicated)), el("td", {}, rest || "—"), actions);
  }), "No copies configured.");
};

pages.drills = async () => {
  const load = async () => {
    const since = $("d-since").value;
    $("d-json").href = "/api/v1/reports/compliance?since=" + since;
    $("d-md").href = $("d-json").href + "&format=markdown";
    $("d-html").href = $("d-json").href + "&format=html";
    const [rep, runs] = await Promise.all([api("GET", "/api/v1/reports/compliance?since=" + encodeURIComponent(since)), api("GET", "/api/v1/drills")]);
    fill("drills-table", runs.map((d) => row({ started: d.started, plan: d.plan, status: d.status, rto: d.rto_seconds, rpo: d.rpo_seconds },
      el("td", {}, when(d.started)), el("td", {}, d.plan), el("td", { class: d.status === "ok" ? "green" : "red" }, d.status + (d.error ? ": " + d.error : "")),
      el("td", { class: level(d.rto_seconds, d.rto_objective_seconds) }, `${dur(d.rto_seconds)} / ${dur(d.rto_objective_seconds)}`),
      el("td", { class: level(d.rpo_seconds, d.rpo_objective_seconds) }, `${dur(d.rpo_seconds)} / ${dur(d.rpo_objective_seconds)}`),
      el("td", {}, el("details", {}, el("summary", {}, `${(d.steps || []).length} step${(d.steps || []).length === 1 ? "" : "s"}`),
        el("ol", { class: "steps" }, (d.steps || []).map((st) => el("li", { class: st.status === "ok" ? "" : "red" },
          `${st.title} — ${st.status}, ${dur(st.seconds)}` + (st.note ? ` (${st.note})` : "") + (st.error ? ": " + st.error : "")))))))), "No drill recorded yet.");
    fill("plans-table", (rep.plans || []).map((p) => {
      const actions = el("td", { class: "actions" });
      if (can("operate")) actions.append(el("button", { type: "button", "data-action": "drill", "aria-label": "Drill " + p.plan + " now", onclick: async () => {
        try { followJob(await api("POST", `/api/v1/plans/${encodeURIComponent(p.plan)}/drill`)); } catch (e) { showError(e.message); }
      } }, "Drill now"));
      return row({ plan: p.plan, tier: p.tier, last: p.last_drill || "", rto: p.rto_seconds, rpo: p.rpo_seconds, n: p.drills_in_period },
        el("td", {}, p.plan), el("td", {}, p.tier), el("td", { class: p.last_drill_id ? (p.last_drill_ok ? "" : "red") : "amber" }, p.last_drill_id ? `${when(p.last_drill)} ${p.last_drill_ok ? "ok" : "FAILED"}` : "never"),
        el("td", { class: p.last_drill_id ? level(p.rto_seconds, p.rto_objective_seconds) : "" }, `${dur(p.rto_seconds)} / ${dur(p.rto_objective_seconds)}`),
        el("td", { class: p.last_drill_id ? level(p.rpo_seconds, p.rpo_objective_seconds) : "" }, `${dur(p.rpo_seconds)} / ${dur(p.rpo_objective_seconds)}`),
        el("td", { class: "num" }, String(p.drills_in_period)), actions);
    }), "No plans configured.");
    $("findings").replaceChildren(...(rep.findings || []).map((f) => el("li", {}, f)));
    if (!(rep.findings || []).length) $("findings").append(el("li", { class: "green" }, "No findings."));
  };
  $("d-since").addEventListener("change", () => load().catch((e) => showError(e.message)));
  await load();
};

pages.account = async () => {
  $("acc-user").textContent = `${session.user} (${session.kind})`;
  $("acc-role").textContent = session.role;
  $("acc-perms").replaceChildren(...session.permissions.map((p) => el("li", {}, p)));
  $("acc-expires").textContent = session.expires ? when(session.expires) : "—";
  const load = async () => {
    const acc = await api("GET", "/api/v1/account");
    $("acc-mfa").textContent = acc.user.mfa ? `enrolled, ${acc.user.recovery_codes_left} recovery codes left` : "none";
    fill("tokens-table", acc.tokens.map((k) => row({ name: k.name, role: k.role, created: k.created, expires: k.expires || "", state: k.state },
      el("td", {}, k.name), el("td", {}, k.role), el("td", {}, when(k.created)), el("td", {}, k.expires ? when(k.expires) : "never"),
      el("td", { class: k.state === "active" ? "green" : "" }, k.state),
      el("td", { class: "actions" }, k.state === "active" ? el("button", { type: "button", "aria-label": "Revoke " + k.name, "data-token": k.name, onclick: async () => {
        try { await api("DELETE", "/api/v1/account/tokens/" + encodeURIComponent(k.name)); await load(); } catch (e) { showError(e.message); }
      } }, "Revoke") : ""))), "No tokens of yours.");
  };
  const act = (id, f) => $(id).addEventListener(id.endsWith("form") ? "submit" : "click", async (e) => {
    e.preventDefault();
    showError("");
    try { await f(); } catch (err) { showError(err.message); }
  });
  act("pw-form", async () => {
    await api("POST", "/api/v1/account/password", { current: $("pw-current").value, new: $("pw-new").value, totp: $("pw-totp").value });
    for (const id of ["pw-current", "pw-new", "pw-totp"]) $(id).value = "";
    $("pw-done").textContent = "The password is changed.";
  });
  act("mfa-begin", async () => {
    const en = await api("POST", "/api/v1/account/mfa");
    $("mfa-qr").src = en.qr_png;
    $("mfa-uri").textContent = en.uri;
    $("mfa-recovery").replaceChildren(...en.recovery_codes.map((c) => el("li", {}, el("code", {}, c))));
    $("mfa-box").hidden = false;
    $("mfa-code").focus();
  });
  act("mfa-confirm", async () => {
    await api("POST", "/api/v1/account/mfa/confirm", { code: $("mfa-code").value });
    $("mfa-box").hidden = true;
    $("mfa-done").textContent = "The second factor is enrolled: logins ask for its code from now on.";
    await load();
  });
  act("tok-form", async () => {
    const k = await api("POST", "/api/v1/account/tokens", { name: $("tok-name").value, expires: $("tok-expires").value });
    $("tok-secret").replaceChildren(`Token ${k.name} (role ${k.role}): `, el("code", { id: "tok-value" }, k.secret), " — copy it now: it is shown this once.");
    $("tok-secret").hidden = false;
    $("tok-name").value = "";
    await load();
  });
  await load();
  if (can("manage-access")) await users(act);
};

// users is the admins' list of users: add, change a role, remove.
async function users(act) {
  const roles = ["viewer", "developer", "auditor", "operator", "admin"];
  const load = async () => {
    const us = await api("GET", "/api/v1/users");
    fill("users-table", us.map((u) => {
      const sel = el("select", { "aria-label": "Role of " + u.name, "data-user": u.name }, roles.map((r) => el("option", { selected: r === u.role }, r)));
      sel.addEventListener("change", async () => {
        try { await api("POST", `/api/v1/users/${encodeURIComponent(u.name)}/role`, { role: sel.value }); await load(); } catch (e) { showError(e.message); }
      });
      const rm = u.name === session.user ? "" : el("button", { type: "button", "aria-label": "Remove " + u.name, "data-remove": u.name, onclick: async () => {
        try { await api("DELETE", "/api/v1/users/" + encodeURIComponent(u.name)); await load(); } catch (e) { showError(e.message); }
      } }, "Remove");
      return row({ name: u.name, role: u.role, mfa: u.mfa ? 1 : 0 }, el("td", {}, u.name), el("td", {}, sel), el("td", {}, u.mfa ? "enrolled" : "none"),
        el("td", { class: "actions" }, rm)).tagged("user", u.name);
    }), "No users.");
    // Each load counts, so a reader can tell the list is fresh.
    $("users-table").dataset.loads = String(Number($("users-table").dataset.loads || 0) + 1);
  };
  act("user-form", async () => {
    await api("POST", "/api/v1/users", { name: $("u-name").value, role: $("u-role").value, password: $("u-password").value });
    $("u-name").value = "";
    $("u-password").value = "";
    await load();
  });
  await load();
}

async function main() {
  const page = document.body.dataset.page;
  filters();
  for (const t of document.querySelectorAll("table.sortable")) sortable(t);
  if (page !== "login") {
    try { session = await api("GET", "/api/v1/session"); } catch (e) { if (e.status !== 401) showError(e.message); return; }
    $("who").textContent = `${session.user} · ${session.role}`;
    document.body.dataset.role = session.role;
    for (const e of document.querySelectorAll("[data-perm]")) if (!can(e.dataset.perm)) e.remove();
    $("logout").addEventListener("click", async () => {
      try { await api("DELETE", "/api/v1/session"); } finally { location.href = "/login"; }
    });
  }
  try { await pages[page](); } catch (e) { if (e.status !== 401) showError(e.message); }
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", main);
