// The page of `digits-eval --serve`: draw with Pointer Events, send the strokes (not the
// canvas pixels: no read-back noise) to /api/strokes, and show what the network saw.
"use strict";

const SIDE = 1000; // strokes are kept in a 1000x1000 space, whatever the canvas's size
const $ = (id) => document.getElementById(id);

const pad = $("pad");
const ctx = pad.getContext("2d");
const penInput = $("pen");
let strokes = []; // [{pen, pts: [[x, y], ...]}]
let current = null;
let names = [];
let inFlight = false;
let pending = null; // the next request body, sent when the one in flight returns
let timer = 0;
let generation = 0; // bumps on clear/undo/photo, so a stale answer is dropped

// ---- drawing -------------------------------------------------------------------------

function penSize() {
  return (parseFloat(penInput.value) / 100) * SIDE;
}

function resizePad() {
  const r = pad.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  pad.width = Math.max(1, Math.round(r.width * dpr));
  pad.height = Math.max(1, Math.round(r.height * dpr));
  redraw();
}

function toSpace(e) {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) / r.width) * SIDE, ((e.clientY - r.top) / r.height) * SIDE];
}

function drawStroke(s) {
  const k = pad.width / SIDE;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#111";
  ctx.fillStyle = "#111";
  ctx.lineWidth = s.pen * k;
  if (s.pts.length === 1) {
    ctx.beginPath();
    ctx.arc(s.pts[0][0] * k, s.pts[0][1] * k, (s.pen * k) / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(s.pts[0][0] * k, s.pts[0][1] * k);
  for (const p of s.pts.slice(1)) ctx.lineTo(p[0] * k, p[1] * k);
  ctx.stroke();
}

function redraw() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  for (const s of strokes) drawStroke(s);
  if (current) drawStroke(current);
  $("hint").hidden = strokes.length > 0 || current !== null || !$("photo").hidden;
}

pad.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 && e.pointerType === "mouse") return;
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  if (!$("photo").hidden) {
    $("photo").hidden = true;
    strokes = [];
  }
  current = { pen: penSize(), pts: [toSpace(e)] };
  redraw();
  schedule(80);
});

pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of events.length ? events : [e]) {
    const p = toSpace(ev);
    const last = current.pts[current.pts.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 2) current.pts.push(p);
  }
  redraw();
  schedule(80);
});

function endStroke(e) {
  if (!current) return;
  e.preventDefault();
  strokes.push(current);
  current = null;
  redraw();
  schedule(0);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

penInput.addEventListener("input", () => {
  $("pen-value").textContent = penInput.value + "%";
});

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearAll);
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); undo(); }
  if (e.key === "Escape") clearAll();
});

function undo() {
  strokes.pop();
  generation++;
  redraw();
  schedule(0);
}

function clearAll() {
  strokes = [];
  current = null;
  pending = null;
  $("photo").hidden = true;
  generation++;
  redraw();
  idle();
}

// ---- asking the server -----------------------------------------------------------------

// Asks for an answer after `delay` ms. While the pen moves (delay > 0) a pending request is
// left to fire, so answers come at most every `delay` ms during a stroke; lifting the pen,
// undo and clear (delay 0) ask at once.
function schedule(delay) {
  if (delay > 0 && timer) return;
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = 0;
    const all = current ? strokes.concat([current]) : strokes;
    if (all.length === 0) { idle(); return; }
    send("/api/strokes", JSON.stringify({
      width: SIDE, height: SIDE, paper: "white",
      pen: all[all.length - 1].pen,
      strokes: all.map((s) => s.pts.map((p) => [Math.round(p[0] * 10) / 10, Math.round(p[1] * 10) / 10])),
      pens: all.map((s) => s.pen),
    }), "application/json");
  }, delay);
}

function send(url, body, type) {
  const job = { url, body, type, gen: generation };
  if (inFlight) { pending = job; return; }
  run(job);
}

async function run(job) {
  inFlight = true;
  const t0 = performance.now();
  try {
    const r = await fetch(job.url, { method: "POST", body: job.body, headers: { "Content-Type": job.type } });
    const answer = await r.json();
    const ms = performance.now() - t0;
    if (job.gen === generation) {
      if (r.ok) show(answer, ms); else showError(answer.error || ("error " + r.status));
    }
  } catch (err) {
    showError("the server did not answer (" + err.message + ")");
  } finally {
    inFlight = false;
    if (pending) { const next = pending; pending = null; run(next); }
  }
}

// ---- showing the answer ----------------------------------------------------------------

function idle() {
  const v = $("verdict");
  v.className = "verdict idle";
  v.textContent = "?";
  v.dataset.class = "";
  v.dataset.number = "";
  $("verdict-line").textContent = "Draw a digit";
  $("found").innerHTML = "&nbsp;";
  $("timing").innerHTML = "&nbsp;";
  document.body.dataset.answer = "";
  bars(null);
  paintGray($("input"), null);
  paintHeat($("saliency"), null);
  $("maps").textContent = "";
}

function showError(message) {
  const v = $("verdict");
  v.className = "verdict none";
  v.textContent = "!";
  $("verdict-line").textContent = message;
  $("found").innerHTML = "&nbsp;";
}

function show(a, ms) {
  if (a.digits && a.digits.length > 1) return showNumber(a, ms);
  const v = $("verdict");
  const label = a.class !== null ? a.class : a.verdict.startsWith("unsure") ? "?" : "\u2013";
  v.textContent = label;
  v.className = "verdict " + (a.class !== null ? "digit" : a.verdict.startsWith("unsure") ? "unsure" : "none")
    + (label.length > 2 ? " long" : "");
  v.dataset.class = a.class === null ? "" : a.class;
  v.dataset.number = "";
  $("verdict-line").textContent = a.class !== null
    ? a.class + " (" + (100 * a.probability).toFixed(1) + "%)"
    : a.verdict;
  $("found").textContent = a.found;
  $("timing").textContent = "answered in " + Math.round(ms) + " ms";
  document.body.dataset.answer = a.verdict;
  bars(a);
  paintGray($("input"), a.input);
  paintHeat($("saliency"), a.saliency);
  showMaps(a.maps);
}

// Several marks side by side, each read on its own: the number they spell (or a dash when
// one of them is not read) and each digit's verdict. The whole picture's probabilities mean
// nothing, so the bars show each mark's top probability instead.
function showNumber(a, ms) {
  const v = $("verdict");
  const label = a.number !== null ? a.number : "\u2013";
  v.textContent = label;
  v.className = "verdict " + (a.number !== null ? "digit" : "none") + (label.length > 3 ? " long" : "");
  v.dataset.class = "";
  v.dataset.number = a.number === null ? "" : a.number;
  const each = a.digits.map(d => d.class !== null
    ? d.class + " " + (100 * d.probability).toFixed(1) + "%"
    : d.verdict);
  $("verdict-line").textContent = (a.number !== null
    ? "The number " + a.number
    : a.digits.length + " marks, not all read as digits") + ": " + each.join(", ");
  $("found").textContent = a.found;
  $("timing").textContent = "answered in " + Math.round(ms) + " ms";
  document.body.dataset.answer = a.number !== null ? "number " + a.number : a.verdict;
  digitBars(a.digits);
  paintGray($("input"), a.input);
  paintHeat($("saliency"), a.saliency);
  showMaps(a.maps);
}

// One bar per mark of a number, left to right: what it was read as (a mark not read as a
// digit shows its top class with a "?", its verdict as the tooltip) and how sure the network
// was of its top class.
function digitBars(digits) {
  const box = $("bars");
  box.textContent = "";
  digits.forEach((d, i) => {
    const read = d.class !== null;
    const n = document.createElement("div");
    n.className = "name" + (read ? " top" : "");
    n.textContent = (i + 1) + ": " + (read ? d.class : d.top + "?");
    n.title = d.verdict;
    const track = document.createElement("div");
    track.className = "track" + (read ? " top" : "");
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = (100 * d.probability).toFixed(1) + "%";
    track.appendChild(fill);
    const pct = document.createElement("div");
    pct.className = "pct" + (read ? " top" : "");
    pct.textContent = (100 * d.probability).toFixed(d.probability >= 0.995 ? 0 : 1) + "%";
    box.append(n, track, pct);
  });
}

function bars(a) {
  const box = $("bars");
  box.textContent = "";
  names.forEach((name, i) => {
    const p = a ? a.probabilities[i] : 0;
    const top = a && name === a.top;
    const n = document.createElement("div");
    n.className = "name" + (top ? " top" : "");
    n.textContent = name;
    const track = document.createElement("div");
    track.className = "track" + (top ? " top" : "");
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = (100 * p).toFixed(1) + "%";
    track.appendChild(fill);
    const pct = document.createElement("div");
    pct.className = "pct" + (top ? " top" : "");
    pct.textContent = a ? (100 * p).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1) + "%" : "";
    box.append(n, track, pct);
  });
}

// rows: an array of rows of numbers; colour(t in [0, 1]) -> [r, g, b]
function paint(canvas, rows, colour, scale) {
  const c = canvas.getContext("2d");
  if (!rows) {
    c.fillStyle = "#000";
    c.fillRect(0, 0, canvas.width, canvas.height);
    return;
  }
  const h = rows.length, w = rows[0].length;
  canvas.width = w; canvas.height = h;
  const img = c.createImageData(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = colour(scale(rows[y][x]));
      const i = 4 * (y * w + x);
      img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
    }
  }
  c.putImageData(img, 0, 0);
}

const clamp01 = (t) => Math.max(0, Math.min(1, t));
const gray = (t) => { const v = Math.round(255 * t); return [v, v, v]; };
// black -> deep red -> orange -> pale yellow
function heat(t) {
  const stops = [[0, 0, 0], [150, 20, 20], [240, 120, 20], [255, 240, 170]];
  const s = clamp01(t) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(s));
  const f = s - i;
  return stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
}
// navy -> teal -> pale yellow
function cool(t) {
  const stops = [[12, 16, 40], [30, 110, 150], [120, 200, 150], [250, 245, 190]];
  const s = clamp01(t) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(s));
  const f = s - i;
  return stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
}
function maxOf(rows) {
  let m = 0;
  for (const r of rows) for (const v of r) m = Math.max(m, Math.abs(v));
  return m;
}

function paintGray(canvas, rows) { paint(canvas, rows, gray, clamp01); }
function paintHeat(canvas, rows) {
  const m = rows ? maxOf(rows) || 1 : 1;
  paint(canvas, rows, heat, (v) => v / m);
}

function showMaps(blocks) {
  const box = $("maps");
  box.textContent = "";
  for (const b of blocks) {
    const block = document.createElement("div");
    block.className = "block" + (b.width < 20 ? " small" : "");
    const title = document.createElement("div");
    title.className = "block-title";
    title.textContent = b.channels + " feature maps " + b.name + " (" + b.width + "\u00d7" + b.height + ")";
    const tiles = document.createElement("div");
    tiles.className = "tiles";
    const m = Math.max(...b.data.map(maxOf)) || 1; // one scale per block: strengths compare
    for (const map of b.data) {
      const c = document.createElement("canvas");
      paint(c, map, cool, (v) => v / m);
      tiles.appendChild(c);
    }
    block.append(title, tiles);
    box.appendChild(block);
  }
}

// ---- photos ----------------------------------------------------------------------------

function sendPhoto(file) {
  if (!file) return;
  strokes = []; current = null; generation++;
  const photo = $("photo");
  if (photo.src) URL.revokeObjectURL(photo.src);
  photo.src = URL.createObjectURL(file);
  photo.hidden = false;
  redraw();
  send("/api/predict", file, file.type || "application/octet-stream");
}

$("file").addEventListener("change", (e) => { sendPhoto(e.target.files[0]); e.target.value = ""; });
const wrap = $("pad-wrap");
wrap.addEventListener("dragover", (e) => { e.preventDefault(); $("drop").hidden = false; });
wrap.addEventListener("dragleave", () => { $("drop").hidden = true; });
wrap.addEventListener("drop", (e) => {
  e.preventDefault();
  $("drop").hidden = true;
  sendPhoto(e.dataTransfer.files[0]);
});

// ---- the model panel -------------------------------------------------------------------

function fact(dl, term, value) {
  if (value === undefined || value === null || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

function pct(x) { return typeof x === "number" ? (100 * x).toFixed(2) + "%" : undefined; }

async function loadModel() {
  const m = await (await fetch("/api/model")).json();
  names = m.class_names;
  const meta = m.meta || {};
  const dl = $("model-facts");
  dl.textContent = "";
  fact(dl, "architecture", m.architecture);
  fact(dl, "parameters", m.parameters.toLocaleString("en"));
  fact(dl, "trained on", meta.data_description || meta.data);
  fact(dl, "test accuracy", pct(meta.test_accuracy));
  const history = Array.isArray(meta.history) ? meta.history : [];
  fact(dl, "epochs", meta.epochs !== undefined ? meta.epochs : history.length || undefined);
  if (meta.kept_epoch !== undefined) {
    fact(dl, "kept", "epoch " + meta.kept_epoch + (meta.kept_because ? " (" + meta.kept_because + ")" : ""));
  }
  fact(dl, "optimizer", meta.optimizer !== undefined ? [meta.optimizer, meta.lr !== undefined ? "lr " + meta.lr : ""].join(" ").trim() : undefined);
  fact(dl, "seed", meta.seed);
  fact(dl, "classes", names.join(", "));
  fact(dl, "unsure below", (100 * m.min_confidence).toFixed(0) + "%");
  const box = $("filters");
  box.textContent = "";
  if (m.filters) {
    const all = m.filters.data;
    const s = Math.max(...all.map(maxOf)) || 1;
    // blue for negative weights, white for 0, red for positive
    const diverging = (t) => t < 0.5
      ? [Math.round(40 + 430 * t), Math.round(90 + 330 * t), 230 + Math.round(50 * t)]
      : [255, Math.round(255 - 380 * (t - 0.5)), Math.round(255 - 400 * (t - 0.5))];
    for (const f of all) {
      const c = document.createElement("canvas");
      paint(c, f, (t) => diverging(t).map((v) => Math.max(0, Math.min(255, v))), (v) => 0.5 + v / (2 * s));
      c.title = "filter (" + m.filters.width + "\u00d7" + m.filters.height + ")";
      box.appendChild(c);
    }
  }
  bars(null);
}

async function findReport() {
  try {
    const r = await fetch("/report", { method: "GET" });
    $("report-link").hidden = !r.ok;
  } catch (_) { /* no report: the link stays hidden */ }
}

window.addEventListener("resize", resizePad);
$("pen-value").textContent = penInput.value + "%";
resizePad();
idle();
loadModel().catch((e) => showError("could not read the model: " + e.message));
findReport();
