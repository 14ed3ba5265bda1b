// Territoria planner: a thin client of the REST API under /api/v1 (no build step, no framework).
// The API key lives in sessionStorage and is sent as X-API-Key; server-sent events are read with
// fetch() because EventSource cannot send headers.

const API = "/api/v1";
const KEY_STORAGE = "territoria.apiKey";
const ACTIVE = new Set(["queued", "running"]);
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
  "#9c755f", "#8cd17d", "#d37295", "#499894"];
const PLAN_REFRESH_MS = 1500; // how often a running solve's best-so-far plan is redrawn at most

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const fmt0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  scenarios: [],
  scenario: null, // {id, version, name, scenario: JSON}
  versions: new Map(), // "id@version" -> scenario JSON
  runs: [],
  activeRun: null, // the run being followed
  stream: null, // AbortController of the event stream
  shownRun: null,
  config: { tile_url: "", tile_attribution: "" },
};

// -- API ----------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

async function api(path, { method = "GET", json, form, raw = false, signal, signOutOn401 = true } = {}) {
  const headers = { "X-API-Key": state.key };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  const response = await fetch(API + path, { method, headers, body, signal });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (typeof data.detail === "string") detail = data.detail;
    } catch { /* not JSON: keep the status line */ }
    if (response.status === 401 && signOutOn401) signOut(`Signed out: ${detail}`);
    throw new ApiError(response.status, detail);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

// -- errors next to the field they are about ----------------------------------------------------

function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
}

function showError(target, message, { focus = true } = {}) {
  const errorEl = $(`${target.id}-error`) || target;
  errorEl.textContent = message;
  if (target.matches("input, select, textarea")) {
    target.setAttribute("aria-invalid", "true");
    if (focus) target.focus();
  }
}

// The API names the field first ("units[3] (id '19001').lat: ...", "form.territories: ...",
// "units.csv line 4 (id 'x').lat: ..."); `rules` map such a prefix to the control it is about.
function fieldFor(detail, rules, fallback) {
  for (const [pattern, element] of rules) {
    if (pattern.test(detail) && element) return element;
  }
  return fallback;
}

// -- sign in ------------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const input = $("api-key");
  clearErrors($("login-form"));
  const key = input.value.trim();
  if (!key) {
    showError(input, "Enter an API key.");
    return;
  }
  state.key = key;
  try {
    await api("/scenarios?limit=1", { signOutOn401: false });
  } catch (e) {
    state.key = "";
    showError(input, e.status === 401 ? `Key rejected: ${e.detail}` : `Could not reach the server: ${e.message}`);
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  input.value = "";
  await enterWorkspace();
  $("scenario-select").focus();
}

function signOut(message = "") {
  stopStream();
  state.key = "";
  sessionStorage.removeItem(KEY_STORAGE);
  $("workspace").hidden = true;
  $("session").hidden = true;
  $("login-form").hidden = false;
  $("intro").hidden = false;
  $("api-key-error").textContent = message;
  $("api-key").focus();
}

async function enterWorkspace() {
  $("login-form").hidden = true;
  $("intro").hidden = true;
  $("session").hidden = false;
  $("workspace").hidden = false;
  map.invalidateSize();
  await loadScenarios();
}

// -- scenarios ----------------------------------------------------------------------------------

async function loadScenarios(selectId) {
  const page = await api("/scenarios?limit=500");
  state.scenarios = page.data;
  const select = $("scenario-select");
  select.replaceChildren(...page.data.map((s) => new Option(`${s.name} (v${s.version}, ${s.units} units, k=${s.territories})`, s.id)));
  if (!page.data.length) {
    select.append(new Option("No scenarios yet: upload one below", ""));
    $("scenario-info").textContent = "";
    return;
  }
  const id = selectId && page.data.some((s) => s.id === selectId) ? selectId : (state.scenario?.id || page.data[0].id);
  select.value = page.data.some((s) => s.id === id) ? id : page.data[0].id;
  await selectScenario(select.value);
}

async function scenarioVersion(id, version) {
  const key = `${id}@${version}`;
  if (!state.versions.has(key)) {
    const row = await api(`/scenarios/${encodeURIComponent(id)}/versions/${version}`);
    state.versions.set(key, row.scenario);
  }
  return state.versions.get(key);
}

let selecting = 0; // a later pick wins over an earlier one still loading

async function selectScenario(id) {
  if (!id) return;
  const ticket = ++selecting;
  const row = await api(`/scenarios/${encodeURIComponent(id)}`);
  if (ticket !== selecting) return;
  stopStream(); // a run of another scenario keeps going on the server; this page follows the new one's
  state.scenario = row;
  state.versions.set(`${row.id}@${row.version}`, row.scenario);
  const s = row.scenario;
  $("scenario-info").textContent = `${s.units.length} units, ${s.reps?.length || 0} reps, `
    + `${s.adjacency ? `${s.adjacency.length} adjacencies` : "adjacency derived from locations"}; version ${row.version}.`;
  fillRules(s);
  state.shownRun = null;
  drawUnits(s, () => "#8a8f98", { title: `${s.name}: ${s.units.length} units (not solved yet)` });
  renderKpis(null);
  await loadRuns();
  const latest = state.runs.find((r) => ACTIVE.has(r.state));
  if (latest) {
    followRun(latest);
  } else {
    const solved = state.runs.find((r) => hasPlan(r));
    if (solved) {
      setProgress(solved);
      await showRun(solved.id);
    } else {
      $("progress-state").textContent = "No run yet.";
    }
  }
}

function measuresOf(scenario) {
  const names = ["workload", "potential"];
  for (const u of scenario.units) for (const m of Object.keys(u.attributes || {})) if (!names.includes(m)) names.push(m);
  for (const r of scenario.balance || []) if (!names.includes(r.measure)) names.push(r.measure);
  return names;
}

function unitMeasure(unit, name) {
  if (name === "workload") return unit.workload ?? 1;
  if (name === "potential") return unit.potential ?? 0;
  return unit.attributes?.[name] ?? 0;
}

function fillRules(scenario) {
  $("k").value = scenario.territories;
  $("contiguity").checked = scenario.contiguity !== false;
  const rules = new Map((scenario.balance || []).map((r) => [r.measure, r]));
  const rows = measuresOf(scenario).map((m) => {
    const rule = rules.get(m);
    const div = document.createElement("div");
    div.className = "balance-row";
    const absolute = rule && rule.tolerance == null;
    const e = escapeHtml(m); // measure names come from uploaded files
    div.innerHTML = `
      <span class="check"><input type="checkbox" id="bal-${e}" data-measure="${e}" ${rule ? "checked" : ""}>
        <label for="bal-${e}">Balance ${e}</label></span>
      <span class="tol"><label for="tol-${e}">± % of mean</label>
        <input type="number" id="tol-${e}" data-measure="${e}" min="0" max="1000" step="any"
          value="${rule?.tolerance != null ? +(rule.tolerance * 100).toFixed(4) : ""}"
          placeholder="${absolute ? "min/max" : "5"}" aria-describedby="tol-${e}-error"></span>
      <p class="field-error" id="tol-${e}-error" role="alert"></p>`;
    if (absolute) div.title = `Absolute bounds: ${rule.min ?? "–"} to ${rule.max ?? "–"}; type a percentage to replace them.`;
    return div;
  });
  $("balance-rows").replaceChildren(...rows);
}

// The scenario with the form's rules, and whether anything changed (then it is saved as a new version).
function scenarioFromForm() {
  const original = state.scenario.scenario;
  const data = structuredClone(original);
  const k = $("k").value.trim();
  if (!/^\d+$/.test(k) || +k < 1) throw { field: $("k"), message: "Territories: a whole number of at least 1." };
  data.territories = +k;
  data.contiguity = $("contiguity").checked;
  const old = new Map((original.balance || []).map((r) => [r.measure, r]));
  const balance = [];
  for (const box of $("balance-rows").querySelectorAll("input[type=checkbox]")) {
    if (!box.checked) continue;
    const m = box.dataset.measure;
    const tolInput = $(`tol-${m}`);
    const text = tolInput.value.trim();
    const rule = old.get(m);
    if (text === "") {
      if (rule && rule.tolerance == null) { balance.push(rule); continue; }
      throw { field: tolInput, message: `Give a tolerance in % for ${m} (e.g. 5), or untick it.` };
    }
    const pct = Number(text);
    if (!Number.isFinite(pct) || pct < 0) throw { field: tolInput, message: "A tolerance is a percentage of at least 0." };
    const tolerance = +(pct / 100).toPrecision(10);
    balance.push(rule && rule.tolerance === tolerance ? rule : { measure: m, tolerance });
  }
  const order = (r) => { const i = (original.balance || []).findIndex((o) => o.measure === r.measure); return i < 0 ? 1e9 : i; };
  balance.sort((a, b) => order(a) - order(b));
  if (balance.length || original.balance) data.balance = balance;
  const pick = (s) => JSON.stringify([s.territories, s.contiguity !== false, s.balance || []]);
  return { data, changed: pick(data) !== pick(original) };
}

// -- runs ---------------------------------------------------------------------------------------

function hasPlan(run) {
  return ["optimal", "feasible"].includes(run.status) || (run.state === "cancelled" && run.objective != null);
}

function shortId(id) { return id.slice(0, 8); }

function runLabel(run) {
  return `${shortId(run.id)} (seed ${run.seed}, v${run.scenario_version})`;
}

async function loadRuns() {
  if (!state.scenario) return;
  const page = await api(`/runs?scenario_id=${encodeURIComponent(state.scenario.id)}&limit=100`);
  state.runs = page.data;
  const body = $("runs-table").tBodies[0];
  body.replaceChildren(...page.data.map((run) => {
    const tr = document.createElement("tr");
    tr.dataset.run = run.id;
    if (run.id === state.shownRun) tr.classList.add("shown");
    const status = ACTIVE.has(run.state) ? run.state : `${run.status || run.state}${run.state === "cancelled" ? " (cancelled)" : ""}`;
    const result = run.objective == null ? "" : `<br><span class="hint">${fmt0.format(run.objective)}</span>`;
    tr.innerHTML = `<td><code>${shortId(run.id)}</code> <span class="hint">v${run.scenario_version}</span><br>`
      + `<span class="hint">${run.method}, seed ${run.seed}, ${fmt.format(run.time_limit_s)} s</span></td>`
      + `<td>${status}${result}</td><td></td>`;
    if (hasPlan(run)) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Show";
      button.setAttribute("aria-label", `Show the plan of run ${shortId(run.id)}`);
      button.addEventListener("click", () => showRun(run.id));
      tr.lastElementChild.append(button);
    }
    return tr;
  }));
  if (!page.data.length) body.innerHTML = `<tr><td colspan="3" class="hint">No runs yet.</td></tr>`;
  const solved = page.data.filter(hasPlan);
  const base = $("compare-base"), other = $("compare-other");
  const keep = [base.value, other.value];
  for (const select of [base, other]) select.replaceChildren(...solved.map((r) => new Option(runLabel(r), r.id)));
  if (solved.length >= 2) {
    base.value = solved.some((r) => r.id === keep[0]) && keep[0] !== solved[0].id ? keep[0] : solved[1].id;
    other.value = solved.some((r) => r.id === keep[1]) && keep[1] !== base.value ? keep[1] : solved[0].id;
  }
  $("compare-button").disabled = solved.length < 2;
}

async function startRun(event) {
  event.preventDefault();
  const form = $("run-form");
  clearErrors(form);
  if (!state.scenario) {
    showError($("run-form-error"), "Upload or pick a scenario first.");
    return;
  }
  let edited;
  try {
    edited = scenarioFromForm();
  } catch (e) {
    if (e.field) { showError(e.field, e.message); return; }
    throw e;
  }
  const timeLimit = Number($("time-limit").value);
  if (!(timeLimit > 0)) { showError($("time-limit"), "Time limit: a number of seconds above 0."); return; }
  const seedText = $("seed").value.trim() || "0";
  if (!/^\d+$/.test(seedText)) { showError($("seed"), "Seed: a whole number of at least 0."); return; }
  $("start-run").disabled = true;
  try {
    if (edited.changed) {
      try {
        await api(`/scenarios/${encodeURIComponent(state.scenario.id)}`, { method: "PUT", json: edited.data });
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        showError(fieldFor(e.detail, ruleFields(), $("run-form-error")), e.detail);
        return;
      }
      const row = await api(`/scenarios/${encodeURIComponent(state.scenario.id)}`);
      state.scenario = row;
      state.versions.set(`${row.id}@${row.version}`, row.scenario);
      $("scenario-info").textContent = `Rules saved as version ${row.version}.`;
      const option = [...$("scenario-select").options].find((o) => o.value === row.id);
      if (option) option.text = `${row.name} (v${row.version}, ${row.scenario.units.length} units, k=${row.scenario.territories})`;
    }
    let accepted;
    try {
      accepted = await api(`/scenarios/${encodeURIComponent(state.scenario.id)}/runs`, {
        method: "POST", json: { method: $("method").value, time_limit_s: timeLimit, seed: +seedText },
      });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const rules = [[/^method/, $("method")], [/^time_limit_s/, $("time-limit")], [/^seed/, $("seed")]];
      showError(fieldFor(e.detail, rules, $("run-form-error")), e.detail);
      return;
    }
    await loadRuns();
    followRun({ ...accepted, time_limit_s: timeLimit, elapsed_s: 0 });
  } finally {
    $("start-run").disabled = false;
  }
}

function ruleFields() {
  return [[/^(form\.)?territories\b/, $("k")], [/^contiguity\b/, $("contiguity")], ...balanceFields()];
}

function balanceFields() {
  // "balance[1].tolerance: ..." -> the tolerance field of the second rule of the edited scenario.
  const { data } = (() => { try { return scenarioFromForm(); } catch { return { data: null }; } })();
  return (data?.balance || []).map((r, i) => [new RegExp(`^balance\\[${i}\\]`), $(`tol-${r.measure}`)]);
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
}

function setProgress(run) {
  const running = ACTIVE.has(run.state);
  const words = {
    queued: "Queued: waiting for a solver worker…",
    running: run.progress ? `Running: ${run.progress}` : "Running…",
    finished: `Finished: ${run.status}${run.stop_reason ? ` (${run.stop_reason.replace("_", " ")})` : ""}`
      + (run.message && !["optimal", "feasible"].includes(run.status) ? `: ${run.message}` : ""),
    cancelled: `Cancelled: ${run.objective != null ? "kept the best plan found" : "no plan found"}`,
    failed: `Failed: ${run.message || "see the server log"}`,
  };
  $("progress-state").textContent = `Run ${shortId(run.id)}: ${words[run.state] || run.state}`;
  $("progress-state").dataset.state = run.state;
  $("progress-objective").textContent = run.objective == null ? "–" : fmt.format(run.objective);
  $("progress-bound").textContent = run.bound == null ? "–" : fmt.format(run.bound);
  $("progress-gap").textContent = run.gap == null ? "–" : `${(run.gap * 100).toFixed(2)} %`;
  const elapsed = elapsedOf(run, running);
  $("progress-elapsed").textContent = elapsed == null ? "–" : `${elapsed.toFixed(1)} s`;
  const limit = run.time_limit_s || state.activeRun?.time_limit_s || 1;
  $("progress-bar").max = limit;
  $("progress-bar").value = running ? Math.min(elapsed || 0, limit) : limit;
  $("cancel-run").disabled = !running;
}

// Elapsed time as the planner watches it: the wall time since the run started. While it runs the
// server reports exactly that; once it ends, its elapsed_s is the solver's own clock, which starts
// after the worker has loaded the scenario and so is a little shorter. An ended run therefore shows
// finished_at - started_at, and no update ever moves the number back for the same run.
const shownElapsed = { run: null, value: null };
function elapsedOf(run, running) {
  let value = run.elapsed_s ?? null;
  if (!running && run.started_at && run.finished_at) {
    const wall = (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000;
    if (Number.isFinite(wall)) value = Math.max(value ?? 0, wall);
  }
  if (shownElapsed.run === run.id && shownElapsed.value != null && (value == null || value < shownElapsed.value)) {
    value = shownElapsed.value;
  }
  shownElapsed.run = run.id;
  shownElapsed.value = value;
  return value;
}

// Server-sent events over fetch: "event: x" / "data: {...}" lines, a blank line ends an event.
async function* sseEvents(response) {
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
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [field, ...rest] = line.split(":");
        const text = rest.join(":").replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data += (data ? "\n" : "") + text;
      }
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

async function followRun(run) {
  stopStream();
  const controller = new AbortController();
  state.stream = controller;
  state.activeRun = run;
  setProgress({ ...run, state: run.state || "queued" });
  let lastObjective = null, lastDraw = 0, ended = false;
  try {
    const response = await api(`/runs/${run.id}/events`, { raw: true, signal: controller.signal });
    for await (const { event, data } of sseEvents(response)) {
      if (event === "error") throw new ApiError(404, data.detail);
      setProgress({ ...data, time_limit_s: run.time_limit_s });
      // Draw the best-so-far plan while it improves (throttled: plans are whole assignments).
      if (event === "progress" && data.objective != null && data.objective !== lastObjective
          && Date.now() - lastDraw > PLAN_REFRESH_MS && ACTIVE.has(data.state)) {
        lastObjective = data.objective;
        lastDraw = Date.now();
        showRun(run.id, { live: true }).catch(() => {});
      }
      if (event === "end") { ended = true; break; }
    }
  } catch (e) {
    if (controller.signal.aborted) return;
    $("progress-state").textContent = `Lost the progress stream: ${e.message}; polling instead.`;
  }
  if (controller.signal.aborted) return;
  if (!ended) {
    // The stream broke (proxy, network): poll until the run ends.
    for (;;) {
      const now = await api(`/runs/${run.id}`);
      setProgress(now);
      if (!ACTIVE.has(now.state) || controller.signal.aborted) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  if (state.stream === controller) state.stream = null;
  await runEnded(run.id);
}

async function runEnded(runId) {
  const run = await api(`/runs/${runId}`);
  setProgress(run);
  await loadRuns();
  if (hasPlan(run)) await showRun(runId);
}

async function cancelRun() {
  const run = state.activeRun;
  if (!run) return;
  $("cancel-run").disabled = true;
  $("progress-state").textContent = `Run ${shortId(run.id)}: cancelling…`;
  try {
    const answer = await api(`/runs/${run.id}/cancel`, { method: "POST" });
    if (!ACTIVE.has(answer.run.state)) {
      stopStream();
      await runEnded(run.id);
    }
  } catch (e) {
    $("progress-state").textContent = `Could not cancel: ${e.message}`;
  }
}

// -- map ----------------------------------------------------------------------------------------

const map = window.L ? L.map("map", { zoomSnap: 0.25, preferCanvas: false }).setView([39.5, -96], 4) : null;
const unitLayer = map ? L.featureGroup().addTo(map) : null;
const edgeLayer = map ? L.layerGroup().addTo(map) : null;
const borderLayer = map ? L.layerGroup().addTo(map) : null; // territory outlines over unit polygons
const repLayer = map ? L.layerGroup().addTo(map) : null;
const UNIT_OUTLINE = "#ffffff";
const BORDER_COLOR = "#1d232b";
const FOCUS_COLOR = "#f0a500"; // the page's focus color (app.css --focus)
let markersByTerritory = new Map();
let edgesByTerritory = new Map();
let bordersByTerritory = new Map();
let unitEntries = new Map(); // unit id -> {unit, layer, latlng, html, text, base: {color, weight}}
let repEntries = new Map(); // rep id -> {latlng, html, text}: rep homes, reachable from the unit picker
let focusedUnit = null;
let lastBounds = null;
const FIT = { padding: [24, 24], maxZoom: 12, animate: false }; // no animation: markers stay put under the mouse
// The map shares its column with the tables: when they change height, keep all units in view.
// One tooltip shared by all units, so two can never be open at once (a marker that moves away
// under a still mouse gets no mouseout).
const unitTip = map ? L.tooltip({ className: "unit-tip", direction: "top", offset: [0, -8] }) : null;
const closeTooltips = () => map?.closeTooltip(unitTip);
// Above the unit, unless that would cut the tooltip off at the map's top edge (or sides).
function showTip(latlng, html) {
  const { x, y } = map.latLngToContainerPoint(latlng);
  const { x: width } = map.getSize();
  const direction = y < 140 ? (x < 110 ? "right" : x > width - 110 ? "left" : "bottom")
    : x < 110 ? "right" : x > width - 110 ? "left" : "top";
  const offset = { top: [0, -8], bottom: [0, 8], left: [-8, 0], right: [8, 0] }[direction];
  if (unitTip.options.direction !== direction) {
    map.closeTooltip(unitTip);
    Object.assign(unitTip.options, { direction, offset });
  }
  unitTip.setLatLng(latlng).setContent(html);
  map.openTooltip(unitTip);
}
if (map) {
  map.on("zoomstart movestart", closeTooltips);
  new ResizeObserver(() => {
    map.invalidateSize();
    if (lastBounds) map.fitBounds(lastBounds, FIT);
  }).observe($("map"));
}

function colorOf(territoryIds) {
  const colors = new Map();
  territoryIds.forEach((t, i) => colors.set(t, i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.5) % 360} 60% 50%)`));
  return colors;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// GeoJSON [lon, lat] rings -> Leaflet [lat, lon]; a MultiPolygon becomes Leaflet's nested form.
function latLngsOf(geometry) {
  const ring = (positions) => positions.map(([lon, lat]) => [lat, lon]);
  const polygon = (rings) => rings.map(ring);
  return geometry.type === "MultiPolygon" ? geometry.coordinates.map(polygon) : polygon(geometry.coordinates);
}

function ringsOf(geometry) {
  return geometry.type === "MultiPolygon" ? geometry.coordinates.flat() : geometry.coordinates;
}

// A territory's outline: the polygon edges of its units that no other unit of the same territory
// shares. Needs boundaries that share vertices (clean county/ZIP files); when few edges are shared
// at all, outlines would just redraw every unit, so none are drawn.
function territoryBorders(units, territoryOf) {
  const key = ([lon, lat]) => `${lon.toFixed(6)},${lat.toFixed(6)}`;
  const edges = new Map(); // "territory|a|b" -> {territory, p, q, n}
  const anyTerritory = new Map(); // "a|b" -> count over all units
  for (const unit of units) {
    const territory = territoryOf(unit);
    if (!unit.geometry || territory == null) continue;
    for (const ring of ringsOf(unit.geometry)) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const a = key(ring[i]), b = key(ring[i + 1]);
        if (a === b) continue;
        const edge = a < b ? `${a}|${b}` : `${b}|${a}`;
        anyTerritory.set(edge, (anyTerritory.get(edge) || 0) + 1);
        const id = `${territory}|${edge}`;
        const seen = edges.get(id);
        if (seen) seen.n += 1;
        else edges.set(id, { territory, p: ring[i], q: ring[i + 1], n: 1 });
      }
    }
  }
  let shared = 0;
  for (const n of anyTerritory.values()) if (n > 1) shared += 1;
  if (!anyTerritory.size || shared / anyTerritory.size < 0.25) return new Map();
  const borders = new Map();
  for (const { territory, p, q, n } of edges.values()) {
    if (n !== 1) continue;
    if (!borders.has(territory)) borders.set(territory, []);
    borders.get(territory).push([[p[1], p[0]], [q[1], q[0]]]);
  }
  return borders;
}

// Diagonal hatching for moved units' polygons, drawn over their fill (an SVG pattern in Leaflet's renderer).
function ensureHatch(layer) {
  const svg = layer.getElement()?.ownerSVGElement;
  if (!svg || svg.querySelector("#moved-hatch")) return;
  const ns = "http://www.w3.org/2000/svg";
  const defs = document.createElementNS(ns, "defs");
  const pattern = document.createElementNS(ns, "pattern");
  Object.entries({ id: "moved-hatch", width: 7, height: 7, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" })
    .forEach(([k, v]) => pattern.setAttribute(k, v));
  const line = document.createElementNS(ns, "line");
  Object.entries({ x1: 0, y1: 0, x2: 0, y2: 7, stroke: "#111", "stroke-width": 2.2, "stroke-opacity": 0.75 })
    .forEach(([k, v]) => line.setAttribute(k, v));
  pattern.append(line);
  defs.append(pattern);
  svg.prepend(defs);
}

// Units colored by `colorFor(unit)`: their polygons when the scenario has them, else points sized by
// workload. `extra(unit)` adds tooltip lines and style (moved units in a comparison).
function drawUnits(scenario, colorFor, { territoryOf = () => null, extra = () => ({}), title = "", centers = new Set(), reps = {},
  centerOf = {}, territoryColor = () => "#18324f" } = {}) {
  if (!map) return;
  closeTooltips();
  focusedUnit = null;
  unitLayer.clearLayers();
  edgeLayer.clearLayers();
  borderLayer.clearLayers();
  repLayer.clearLayers();
  markersByTerritory = new Map();
  edgesByTerritory = new Map();
  unitEntries = new Map();
  repEntries = new Map();
  const measures = measuresOf(scenario);
  const maxWorkload = Math.max(...scenario.units.map((u) => unitMeasure(u, "workload")), 1e-9);
  const byId = new Map(scenario.units.map((u) => [u.id, u]));
  // Adjacency inside a territory, drawn faintly, shows it as one connected piece even without tiles
  // (not needed between polygons: they show it themselves).
  for (const [a, b] of scenario.adjacency || []) {
    const ua = byId.get(a), ub = byId.get(b);
    const ta = territoryOf(ua), tb = territoryOf(ub);
    if (!ua || !ub || ta == null || ta !== tb || (ua.geometry && ub.geometry)) continue;
    const edge = L.polyline([[ua.lat, ua.lon], [ub.lat, ub.lon]], { color: colorFor(ua), weight: 2, opacity: 0.45, interactive: false });
    edge.addTo(edgeLayer);
    if (!edgesByTerritory.has(ta)) edgesByTerritory.set(ta, []);
    edgesByTerritory.get(ta).push(edge);
  }
  const bounds = L.latLngBounds([]);
  const hatched = [];
  for (const unit of scenario.units) {
    const territory = territoryOf(unit);
    const more = extra(unit);
    const isCenter = centers.has(unit.id);
    const className = `unit-marker${unit.geometry ? " unit-shape" : ""}${more.className ? ` ${more.className}` : ""}${isCenter ? " center" : ""}`;
    let layer;
    if (unit.geometry) {
      layer = L.polygon(latLngsOf(unit.geometry), {
        fillColor: colorFor(unit), fillOpacity: more.fillOpacity ?? 0.8, color: more.stroke || UNIT_OUTLINE,
        weight: more.weight ? more.weight - 0.5 : 0.8, opacity: 1, className,
      });
      if (more.hatch) hatched.push(latLngsOf(unit.geometry));
    } else {
      const radius = 4 + 6 * Math.sqrt(unitMeasure(unit, "workload") / maxWorkload);
      layer = L.circleMarker([unit.lat, unit.lon], {
        radius: radius + (more.radiusBoost || 0), fillColor: colorFor(unit), fillOpacity: more.fillOpacity ?? 0.9,
        color: more.stroke || (isCenter ? "#111" : UNIT_OUTLINE), weight: more.weight || (isCenter ? 2.5 : 1), opacity: 1, className,
      });
    }
    const lines = [`<strong>${escapeHtml(unit.name || unit.id)}</strong> <span class="hint">${escapeHtml(unit.id)}</span>`];
    if (territory != null) lines.push(`Territory <strong>${escapeHtml(territory)}</strong>${reps[territory] ? ` · rep ${escapeHtml(reps[territory])}` : ""}${isCenter ? " · center" : ""}`);
    for (const m of measures) lines.push(`${escapeHtml(m)}: ${fmt.format(unitMeasure(unit, m))}`);
    if (unit.lock) lines.push(`locked to ${escapeHtml(unit.lock)}`);
    lines.push(...(more.lines || []));
    const html = lines.join("<br>");
    const latlng = L.latLng(unit.lat, unit.lon);
    layer.on("mouseover", () => showTip(latlng, html));
    layer.on("mouseout", () => { if (focusedUnit !== unit.id) map.closeTooltip(unitTip); });
    layer.on("click", () => { $("unit-select").value = unit.id; focusUnit(unit.id); });
    layer.addTo(unitLayer);
    layer.getElement()?.setAttribute("data-unit", unit.id);
    unitEntries.set(unit.id, { unit, layer, latlng, html, text: htmlToText(html), base: { color: layer.options.color, weight: layer.options.weight } });
    if (territory != null) {
      if (!markersByTerritory.has(territory)) markersByTerritory.set(territory, []);
      markersByTerritory.get(territory).push(layer);
    }
    bounds.extend(unit.geometry ? layer.getBounds() : latlng);
  }
  if (hatched.length) {
    for (const latlngs of hatched) {
      const overlay = L.polygon(latlngs, { stroke: false, fillColor: "url(#moved-hatch)", fillOpacity: 1, interactive: false, className: "moved-hatch" });
      overlay.addTo(unitLayer);
      ensureHatch(overlay);
    }
  }
  bordersByTerritory = new Map();
  for (const [territory, segments] of territoryBorders(scenario.units, territoryOf)) {
    const line = L.polyline(segments, { color: BORDER_COLOR, weight: 2, opacity: 0.9, interactive: false, className: "territory-border" });
    line.addTo(borderLayer);
    bordersByTerritory.set(territory, line);
  }
  // A polygon's center is marked by a dot at the unit's location (points mark it with their outline).
  for (const id of centers) {
    const unit = byId.get(id);
    if (!unit?.geometry) continue;
    L.circleMarker([unit.lat, unit.lon], { radius: 4, color: "#fff", weight: 1.5, fillColor: "#111", fillOpacity: 1,
      interactive: false, className: "center-dot" }).addTo(borderLayer);
  }
  for (const rep of scenario.reps || []) {
    const territory = Object.keys(reps).find((t) => reps[t] === rep.id);
    const color = territory ? territoryColor(territory) : "#fff";
    const icon = L.divIcon({ className: "rep-home", html: `<span style="border-color:${color}">${escapeHtml(rep.id)}</span>`, iconSize: null });
    const center = byId.get(centerOf[territory]);
    if (center) {
      // From the rep's home to the territory's center: shows who serves which territory, and how far away.
      L.polyline([[rep.lat, rep.lon], [center.lat, center.lon]], { color, weight: 2, dashArray: "6 5", opacity: 0.9, interactive: false })
        .addTo(repLayer);
    }
    const repHtml = `Home of rep <strong>${escapeHtml(rep.name || rep.id)}</strong>${territory ? ` · territory ${escapeHtml(territory)}` : ""}`
      + `${rep.skills?.length ? `<br>skills: ${rep.skills.map(escapeHtml).join(", ")}` : ""}`;
    repEntries.set(rep.id, {
      latlng: L.latLng(rep.lat, rep.lon), html: repHtml, territory,
      text: `Home of rep ${rep.name || rep.id}${territory ? `, territory ${territory}` : ""}${rep.skills?.length ? `, skills ${rep.skills.join(", ")}` : ""}`,
    });
    L.marker([rep.lat, rep.lon], { icon, keyboard: false, zIndexOffset: 1000 })
      .bindTooltip(repHtml)
      .addTo(repLayer);
    bounds.extend([rep.lat, rep.lon]);
  }
  lastBounds = bounds.isValid() ? bounds : null;
  if (lastBounds) map.fitBounds(lastBounds, FIT);
  if (title) $("view-title").textContent = title;
  fillUnitPicker(scenario, territoryOf);
}

function htmlToText(html) {
  const div = document.createElement("div");
  div.innerHTML = html.replaceAll("<br>", "; ");
  return div.textContent;
}

// The keyboard's way to the units on the map: one <select> (type to jump by name, arrows to step)
// that outlines the unit, brings it into view and shows its tooltip (also read out through a live region).
function fillUnitPicker(scenario, territoryOf) {
  const select = $("unit-select");
  const units = [...scenario.units].sort((a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id), "en", { numeric: true }));
  const unitOptions = units.map((u) => {
    const territory = territoryOf(u);
    return new Option(`${u.name || u.id}${u.name && u.name !== u.id ? ` (${u.id})` : ""}${territory != null ? ` · ${territory}` : ""}`, u.id);
  });
  const children = [new Option(`Pick one of ${units.length} units…`, ""), ...unitOptions];
  if (repEntries.size) {
    // rep homes are on the map too: the same picker reaches them with the keyboard
    const group = document.createElement("optgroup");
    group.label = "Rep homes";
    for (const [id, entry] of repEntries) {
      group.append(new Option(`Rep ${id}${entry.territory ? ` · ${entry.territory}` : ""}`, `rep:${id}`));
    }
    children.push(group);
  }
  select.replaceChildren(...children);
  $("unit-details").textContent = "";
}

function focusUnit(id) {
  const previous = unitEntries.get(focusedUnit);
  if (previous) previous.layer.setStyle(previous.base);
  focusedUnit = null;
  const rep = typeof id === "string" && id.startsWith("rep:") ? repEntries.get(id.slice(4)) : null;
  if (rep) {
    if (!map.getBounds().contains(rep.latlng)) map.panTo(rep.latlng, { animate: false });
    showTip(rep.latlng, rep.html);
    $("unit-details").textContent = rep.text;
    return;
  }
  const entry = unitEntries.get(id);
  if (!entry) {
    closeTooltips();
    $("unit-details").textContent = "";
    return;
  }
  if (!map.getBounds().contains(entry.latlng)) map.panTo(entry.latlng, { animate: false });
  entry.layer.setStyle({ color: FOCUS_COLOR, weight: entry.unit.geometry ? 3.5 : 3 });
  entry.layer.bringToFront();
  focusedUnit = id;
  showTip(entry.latlng, entry.html);
  $("unit-details").textContent = entry.text;
}

function highlightTerritory(territory) {
  for (const [t, markers] of markersByTerritory) {
    for (const m of markers) {
      const base = m.options.baseFill ?? m.options.fillOpacity;
      m.options.baseFill = base;
      m.setStyle({ fillOpacity: territory == null || t === territory ? base : 0.12 });
    }
  }
  for (const [t, edges] of edgesByTerritory) {
    for (const edge of edges) edge.setStyle({ opacity: territory == null || t === territory ? 0.45 : 0.08 });
  }
  for (const [t, line] of bordersByTerritory) line.setStyle({ opacity: territory == null || t === territory ? 0.9 : 0.2 });
}

// -- plan view ----------------------------------------------------------------------------------

async function showRun(runId, { live = false } = {}) {
  const run = state.runs.find((r) => r.id === runId) || await api(`/runs/${runId}`);
  const [plan, scenario] = await Promise.all([
    api(`/runs/${runId}/plan`),
    scenarioVersion(run.scenario_id, run.scenario_version),
  ]);
  if (!plan.assignment) return;
  state.shownRun = runId;
  $("compare-panel").hidden = true;
  $("kpi-panel").hidden = false;
  const tids = plan.territories.map((t) => t.id);
  const colors = colorOf(tids);
  const reps = Object.fromEntries(plan.territories.filter((t) => t.rep).map((t) => [t.id, t.rep]));
  const centers = new Set(plan.territories.map((t) => t.center).filter(Boolean));
  const k = plan.kpis || {};
  const parts = [`${plan.status}${plan.stop_reason ? ` (${plan.stop_reason.replace("_", " ")})` : ""}`];
  if (plan.objective != null) parts.push(`objective ${fmt0.format(plan.objective)}`);
  if (plan.gap != null) parts.push(`gap ${(plan.gap * 100).toFixed(2)} %`);
  for (const [name, value] of Object.entries(k)) {
    if (name.startsWith("max_") && name.endsWith("_dev")) parts.push(`max ${name.slice(4, -4)} dev ${(value * 100).toFixed(1)} %`);
  }
  if (plan.runtime_s != null && !live) parts.push(`solver ${plan.runtime_s.toFixed(1)} s`);
  if (plan.violations?.length) parts.push(`${plan.violations.length} violations: ${plan.violations.slice(0, 3).join("; ")}`);
  $("view-summary").textContent = parts.join(" · ");
  renderKpis(plan, scenario, colors);
  renderDownloads([run]);
  for (const tr of $("runs-table").tBodies[0].rows) tr.classList.toggle("shown", tr.dataset.run === runId);
  // Last: the tables above may have changed the map's height.
  drawUnits(scenario, (u) => colors.get(plan.assignment[u.id]) || "#888", {
    territoryOf: (u) => plan.assignment[u?.id], centers, reps, territoryColor: (t) => colors.get(t),
    centerOf: Object.fromEntries(plan.territories.map((t) => [t.id, t.center])),
    title: `${live ? "Best plan so far" : "Plan"} of run ${shortId(runId)} (${run.method}, seed ${run.seed}, v${run.scenario_version})`,
  });
}

function toleranceOf(scenario, measure) {
  const rule = (scenario.balance || []).find((r) => r.measure === measure);
  return rule?.tolerance ?? null;
}

function devBar(dev, tolerance, scale) {
  const pct = (x) => `${Math.min(50, (Math.abs(x) / scale) * 50).toFixed(2)}%`;
  const within = tolerance == null || Math.abs(dev) <= tolerance + 1e-9;
  const text = `${dev >= 0 ? "+" : "−"}${Math.abs(dev * 100).toFixed(1)} %`;
  const tol = tolerance == null ? "" : `<span class="devbar-tol" style="left:calc(50% - ${pct(tolerance)})"></span>`
    + `<span class="devbar-tol" style="left:calc(50% + ${pct(tolerance)})"></span>`;
  const fill = `<span class="devbar-fill ${within ? "ok" : "over"}" style="${dev >= 0 ? "left:50%" : `left:calc(50% - ${pct(dev)})`};width:${pct(dev)}"></span>`;
  const label = `${text} of the mean${tolerance == null ? "" : within ? `, within ±${(tolerance * 100).toFixed(1)} %` : `, outside ±${(tolerance * 100).toFixed(1)} %`}`;
  return `<span class="dev"><span class="devbar" role="img" aria-label="${label}">${tol}${fill}</span><span class="devtext ${within ? "" : "over"}">${text}</span></span>`;
}

function renderKpis(plan, scenario, colors) {
  const table = $("kpi-table");
  if (!plan) {
    table.tHead.innerHTML = "";
    table.tBodies[0].innerHTML = `<tr><td class="hint">Start a run to see KPIs per territory.</td></tr>`;
    $("view-summary").textContent = "";
    renderDownloads([]);
    return;
  }
  const first = plan.territories[0]?.kpis || {};
  const measures = measuresOf(scenario).filter((m) => `${m}_dev` in first);
  const hasReps = plan.territories.some((t) => t.rep);
  const scale = Math.max(0.01, ...measures.flatMap((m) => [
    (toleranceOf(scenario, m) || 0) * 1.5, ...plan.territories.map((t) => Math.abs(t.kpis[`${m}_dev`] || 0))]));
  table.tHead.innerHTML = `<tr><th scope="col">Territory</th>${hasReps ? `<th scope="col">Rep</th>` : ""}<th scope="col" class="num">Units</th>`
    + measures.map((m) => `<th scope="col" class="num">${escapeHtml(m)}</th><th scope="col">${escapeHtml(m)} deviation${toleranceOf(scenario, m) != null ? ` (±${(toleranceOf(scenario, m) * 100).toFixed(0)} %)` : ""}</th>`).join("")
    + `<th scope="col" class="num">Mean km</th><th scope="col">Contiguous</th></tr>`;
  table.tBodies[0].replaceChildren(...plan.territories.map((t) => {
    const tr = document.createElement("tr");
    tr.tabIndex = 0;
    tr.dataset.territory = t.id;
    tr.innerHTML = `<th scope="row"><span class="swatch" style="background:${colors.get(t.id)}"></span>${escapeHtml(t.id)}</th>`
      + (hasReps ? `<td>${escapeHtml(t.rep || "–")}</td>` : "")
      + `<td class="num">${t.kpis.units}</td>`
      + measures.map((m) => `<td class="num">${fmt.format(t.kpis[m])}</td><td>${devBar(t.kpis[`${m}_dev`], toleranceOf(scenario, m), scale)}</td>`).join("")
      + `<td class="num">${t.kpis.mean_distance_km == null ? "–" : fmt.format(t.kpis.mean_distance_km)}</td>`
      + `<td>${t.kpis.contiguous === false ? `<strong class="over">no</strong>` : "yes"}</td>`;
    for (const [on, arg] of [["mouseenter", t.id], ["focus", t.id], ["mouseleave", null], ["blur", null]]) {
      tr.addEventListener(on, () => highlightTerritory(arg));
    }
    return tr;
  }));
}

function renderDownloads(runs) {
  const box = $("downloads");
  box.replaceChildren();
  for (const run of runs) {
    const group = document.createElement("span");
    group.className = "download-group";
    group.append(runs.length > 1 ? `${shortId(run.id)}:` : "Download plan:");
    for (const [ext, label] of [["csv", "CSV"], ["geojson", "GeoJSON"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "download";
      button.textContent = label;
      button.setAttribute("aria-label", `Download the plan of run ${shortId(run.id)} as ${label}`);
      button.addEventListener("click", () => download(run.id, ext));
      group.append(button);
    }
    box.append(group);
  }
}

async function download(runId, ext) {
  try {
    const response = await api(`/runs/${runId}/plan.${ext}`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const a = Object.assign(document.createElement("a"), { href: url, download: `plan-${shortId(runId)}.${ext}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    $("view-summary").textContent = `Download failed: ${e.message}`;
  }
}

// -- compare ------------------------------------------------------------------------------------

async function compareRuns(event) {
  event.preventDefault();
  clearErrors($("compare-form"));
  const baseId = $("compare-base").value, otherId = $("compare-other").value;
  if (!baseId || !otherId || baseId === otherId) {
    showError($("compare-other"), "Pick two different runs.");
    return;
  }
  let result;
  try {
    result = await api("/compare", { method: "POST", json: { run_ids: [baseId, otherId] } });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    showError($("compare-error"), e.detail);
    return;
  }
  const base = result.runs[0], other = result.runs[1];
  const [basePlan, scenario] = await Promise.all([
    api(`/runs/${baseId}/plan`),
    scenarioVersion(result.scenario_id, base.scenario_version),
  ]);
  const diff = result.diffs[0];
  const moved = new Map(diff.units.map((u) => [u.unit, u]));
  const colors = colorOf(basePlan.territories.map((t) => t.id));
  const territoryOf = (u) => (u ? (moved.get(u.id)?.to ?? basePlan.assignment[u.id]) : null);
  state.shownRun = null;
  const shares = Object.entries(diff.moved_share).map(([m, s]) => `${(s * 100).toFixed(1)} % of ${m}`).join(", ");
  const shaped = scenario.units.some((u) => u.geometry);
  $("view-summary").textContent = `Moved units (black outline${shaped ? ", hatched" : ""}) are colored by their territory in run ${shortId(otherId)}; `
    + `the others stay where run ${shortId(baseId)} put them. ${diff.moved_units} units move (${shares}).`
    + (result.matched_territories ? " Territories were matched by shared workload." : "");
  $("kpi-panel").hidden = true;
  $("compare-panel").hidden = false;
  renderCompareTables(result, baseId, otherId, colors, scenario);
  renderDownloads([{ id: baseId }, { id: otherId }]);
  drawUnits(scenario, (u) => colors.get(territoryOf(u)) || "#888", {
    territoryOf,
    extra: (u) => {
      const m = moved.get(u.id);
      if (!m) return { fillOpacity: 0.3 };
      return { className: "moved", stroke: "#111", weight: 3, radiusBoost: 2, fillOpacity: 1, hatch: true,
        lines: [`<strong>moves ${escapeHtml(m.from)} → ${escapeHtml(m.to)}</strong>`] };
    },
    title: `Compare ${shortId(baseId)} → ${shortId(otherId)}: ${diff.moved_units} units move`,
  });
}

function kpiText(name, value) {
  if (value == null) return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (/_dev$|_share$/.test(name)) return `${(value * 100).toFixed(1)} %`;
  return fmt.format(value);
}

function renderCompareTables(result, baseId, otherId, colors, scenario) {
  const head = (cells) => `<tr>${cells.map((c, i) => `<th scope="col"${i ? ` class="num"` : ""}>${c}</th>`).join("")}</tr>`;
  const kpis = $("compare-kpis");
  kpis.tHead.innerHTML = head(["KPI", shortId(baseId), shortId(otherId), "Change"]);
  // moved_* count moves against the current alignment: meaningless when the scenario has none.
  const hasCurrent = scenario.units.some((u) => u.current);
  const shown = Object.entries(result.kpis).filter(([name]) => hasCurrent || !name.startsWith("moved_"));
  kpis.tBodies[0].innerHTML = shown.map(([name, values]) => {
    const a = values[baseId], b = values[otherId];
    const delta = typeof a === "number" && typeof b === "number" && typeof a !== "boolean" ? b - a : null;
    const deltaText = delta == null ? "" : `${delta > 0 ? "+" : delta < 0 ? "−" : ""}${kpiText(name, Math.abs(delta))}`;
    return `<tr><th scope="row">${escapeHtml(name.replaceAll("_", " "))}</th><td class="num">${kpiText(name, a)}</td>`
      + `<td class="num">${kpiText(name, b)}</td><td class="num">${deltaText}</td></tr>`;
  }).join("");

  const measures = measuresOf(scenario).filter((m) => result.territories.some((t) => `${m}_dev` in (t.runs[baseId] || {})));
  const terr = $("compare-territories");
  terr.tHead.innerHTML = head(["Territory", "Units", ...measures.map((m) => `${escapeHtml(m)} dev. %`)]);
  terr.tBodies[0].innerHTML = result.territories.map((t) => {
    const a = t.runs[baseId] || {}, b = t.runs[otherId] || {};
    const pair = (x, y, f) => `${f(x)} → ${f(y)}`;
    const pctText = (v) => (v == null ? "–" : `${v >= 0 ? "+" : "−"}${Math.abs(v * 100).toFixed(1)}`);
    return `<tr><th scope="row"><span class="swatch" style="background:${colors.get(t.id)}"></span>${escapeHtml(t.id)}</th>`
      + `<td class="num">${pair(a.units, b.units, (v) => v ?? "–")}</td>`
      + measures.map((m) => `<td class="num">${pair(a[`${m}_dev`], b[`${m}_dev`], pctText)}</td>`).join("") + "</tr>";
  }).join("");

  const diff = result.diffs[0];
  const names = new Map(scenario.units.map((u) => [u.id, u.name || u.id]));
  const moved = $("moved-units");
  const shownMeasures = measuresOf(scenario).filter((m) => diff.units[0] && m in diff.units[0]).slice(0, 2);
  moved.tHead.innerHTML = head(["Unit", "From → to", ...shownMeasures.map(escapeHtml)]);
  moved.caption.textContent = `${diff.units.length} units move`;
  const limit = 200;
  moved.tBodies[0].innerHTML = diff.units.slice(0, limit).map((u) => `<tr data-unit="${escapeHtml(u.unit)}"><th scope="row">${escapeHtml(names.get(u.unit))}</th>`
    + `<td class="num"><span class="swatch" style="background:${colors.get(u.from)}"></span>${escapeHtml(u.from)} → `
    + `<span class="swatch" style="background:${colors.get(u.to)}"></span>${escapeHtml(u.to)}</td>`
    + shownMeasures.map((m) => `<td class="num">${fmt.format(u[m])}</td>`).join("") + "</tr>").join("")
    + (diff.units.length > limit ? `<tr><td colspan="4" class="hint">… and ${diff.units.length - limit} more (download the plans)</td></tr>` : "")
    + (diff.units.length ? "" : `<tr><td colspan="4" class="hint">No unit moves: the two plans are the same.</td></tr>`);
  moved.tBodies[0].querySelectorAll("tr[data-unit]").forEach((tr, i) => { tr.tabIndex = i ? -1 : 0; });
}

// Rows of units as one tab stop: arrows, Home and End move between them (each shows its unit on the map).
function stepRows(event) {
  const row = event.target.closest("tr[data-unit]");
  if (!row) return;
  const rows = [...row.parentElement.querySelectorAll("tr[data-unit]")];
  const i = rows.indexOf(row);
  const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: rows.length - 1 }[event.key];
  if (to == null || !rows[to]) return;
  event.preventDefault();
  row.tabIndex = -1;
  rows[to].tabIndex = 0;
  rows[to].focus();
}

// -- upload -------------------------------------------------------------------------------------

async function uploadJson(event) {
  event.preventDefault();
  const form = $("upload-json-form"), input = $("json-file");
  clearErrors(form);
  clearErrors($("upload-csv-form"));
  $("upload-status").textContent = "";
  const file = input.files[0];
  if (!file) { showError(input, "Choose a scenario JSON file."); return; }
  let data;
  try {
    data = JSON.parse(await file.text());
  } catch (e) {
    showError(input, `${file.name}: not valid JSON (${e.message})`);
    return;
  }
  try {
    const created = await api("/scenarios", { method: "POST", json: data });
    await uploaded(created, file.name);
    form.reset();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    showError(input, `${file.name}: ${e.detail}`);
  }
}

async function uploadCsv(event) {
  event.preventDefault();
  const form = $("upload-csv-form");
  clearErrors(form);
  clearErrors($("upload-json-form"));
  $("upload-status").textContent = "";
  const units = $("units-file").files[0], reps = $("reps-file").files[0];
  if (!units) { showError($("units-file"), "Choose a units CSV file."); return; }
  const k = $("csv-k").value.trim();
  if (!/^\d+$/.test(k) || +k < 1) { showError($("csv-k"), "Territories: a whole number of at least 1."); return; }
  const body = new FormData();
  body.append("units", units, units.name);
  if (reps) body.append("reps", reps, reps.name);
  body.append("territories", k);
  if ($("csv-name").value.trim()) body.append("name", $("csv-name").value.trim());
  try {
    const created = await api("/scenarios/csv", { method: "POST", form: body });
    await uploaded(created, units.name);
    form.reset();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const rules = [
      [new RegExp(`^(form\\.units|units\\b|${escape(units.name)})`), $("units-file")],
      ...(reps ? [[new RegExp(`^(form\\.reps|reps\\b|${escape(reps.name)})`), $("reps-file")]] : []),
      [/^(form\.)?territories\b/, $("csv-k")], [/^(form\.)?name\b/, $("csv-name")],
    ];
    showError(fieldFor(e.detail, rules, $("upload-csv-form-error")), e.detail);
  }
}

async function uploaded(created, filename) {
  $("upload-status").textContent = `Uploaded ${filename} as “${created.name}” (${created.units} units, k=${created.territories}).`;
  state.scenario = null;
  await loadScenarios(created.id);
  $("scenario-select").focus(); // the next step is up there: its rules and Start run
}

// -- start --------------------------------------------------------------------------------------

async function init() {
  if (!map) $("library-missing").hidden = false;
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut());
  $("scenario-select").addEventListener("change", (e) => {
    if (e.target.value !== state.scenario?.id) selectScenario(e.target.value).catch(report);
  });
  $("unit-select").addEventListener("change", (e) => focusUnit(e.target.value));
  $("unit-select").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.target.value = ""; focusUnit(""); }
  });
  $("moved-units").addEventListener("keydown", stepRows);
  $("moved-units").addEventListener("focusin", (e) => {
    const row = e.target.closest("tr[data-unit]");
    if (row) focusUnit(row.dataset.unit);
  });
  $("run-form").addEventListener("submit", (e) => startRun(e).catch(report));
  $("cancel-run").addEventListener("click", cancelRun);
  $("compare-form").addEventListener("submit", (e) => compareRuns(e).catch(report));
  $("upload-json-form").addEventListener("submit", (e) => uploadJson(e).catch(report));
  $("upload-csv-form").addEventListener("submit", (e) => uploadCsv(e).catch(report));
  $("goto-upload").addEventListener("click", (e) => { e.preventDefault(); $("upload-heading").focus(); });
  $("login-button").disabled = false; // the HTML keeps it off until the form is handled here
  try {
    const response = await fetch(`${API}/web/config`);
    if (response.ok) state.config = await response.json();
  } catch { /* offline or older server: no tiles */ }
  if (map && state.config.tile_url) {
    L.tileLayer(state.config.tile_url, { attribution: state.config.tile_attribution, maxZoom: 18 }).addTo(map);
  }
  if (state.key) {
    try {
      await enterWorkspace();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) report(e);
    }
  } else {
    $("api-key").focus();
  }
  document.body.dataset.ready = "true";
}

function report(error) {
  console.error(error);
  $("view-summary").textContent = `Something went wrong: ${error.message}`;
}

init();
