// The demo page: edit or fetch a puzzle, ask the server to solve it, play the segments back.
// Served by `python -m src.hrm.demo`; `infer --html` inlines this file with one trace (no server, no editor).
// A trace is what POST /api/solve returns (src/hrm/demo/trace.py): boards are strings of one character per cell.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const FRAME_MS = 700;

const state = {
  info: null,       // GET /api/info
  task: "sudoku",
  size: 9,
  cells: [],        // the puzzle being edited: one character per cell
  selected: -1,     // the Sudoku cell taking digits
  trace: null,      // the last solve
  step: 1,          // 1-based segment shown
  timer: null,
};

// ---------------------------------------------------------------------------------------------
// Grids

// Build (or rebuild) a grid of size x size cells in `element`; `onClick(index)` makes it editable.
function makeGrid(element, task, size, onClick) {
  element.className = "grid " + (task === "sudoku" ? "sudoku" : size > 16 ? "board large" : "board");
  element.style.gridTemplateColumns = `repeat(${size}, auto)`;
  element.replaceChildren();
  for (let i = 0; i < size * size; i++) {
    const cell = document.createElement("div");
    cell.className = "cell";
    if (onClick) cell.addEventListener("click", () => onClick(i));
    element.appendChild(cell);
  }
}

// Show `board` over `puzzle` (both strings) in a grid made by makeGrid; changed and wrong are sets of indices.
function paintGrid(element, task, size, puzzle, board, changed, wrong, selected) {
  const cells = element.children;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i];
    const classes = ["cell"];
    if (task === "sudoku") {
      const r = Math.floor(i / 9), c = i % 9;
      if (c % 3 === 2 && c < 8) classes.push("box-right");
      if (r % 3 === 2 && r < 8) classes.push("box-bottom");
      if (puzzle[i] !== "0") classes.push("given");
      if (i === selected) classes.push("selected");
      cell.textContent = board[i] === "0" ? "" : board[i];
    } else {
      const kind = { "#": "wall", S: "start", E: "end", "*": "path", ".": "floor" }[board[i]];
      classes.push(kind || "odd");
      cell.textContent = board[i] === "S" || board[i] === "E" ? board[i] : kind ? "" : board[i];
    }
    if (wrong && wrong.has(i)) classes.push("wrong");
    if (changed && changed.has(i)) classes.push("changed");
    cell.className = classes.join(" ");
  }
}

// ---------------------------------------------------------------------------------------------
// The puzzle editor

function puzzleText() {
  if (state.task === "sudoku") return state.cells.map((ch) => (ch === "0" ? "." : ch)).join("");
  const rows = [];
  for (let r = 0; r < state.size; r++) rows.push(state.cells.slice(r * state.size, (r + 1) * state.size).join(""));
  return rows.join("\n");
}

function showPuzzle(text, source) {
  state.cells = text.split("");
  state.selected = -1;
  $("puzzle-text").value = puzzleText();
  paintEditor();
  $("source").textContent = source || "";
  $("error").textContent = "";
}

function paintEditor() {
  const cells = state.cells.join("");  // every digit typed is a given
  paintGrid($("edit-grid"), state.task, state.size, cells, cells, null, null, state.selected);
}

function editCell(index) {
  if (state.task === "sudoku") {
    state.selected = index;
    $("edit-grid").focus();
  } else {
    const tool = document.querySelector("input[name=tool]:checked").value;
    const here = state.cells[index];
    if (tool === "#") {
      if (here === "." || here === "#") state.cells[index] = here === "#" ? "." : "#";
    } else if (here !== "S" && here !== "E") {
      const old = state.cells.indexOf(tool);
      if (old >= 0) state.cells[old] = ".";
      state.cells[index] = tool;
    }
    $("puzzle-text").value = puzzleText();
    edited();
  }
  paintEditor();
}

function edited() {
  $("source").textContent = "(edited)";
}

function typeDigit(event) {
  if (state.task !== "sudoku" || state.selected < 0) return;
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -9, ArrowDown: 9 };
  if (event.key in moves) {
    state.selected = Math.min(80, Math.max(0, state.selected + moves[event.key]));
  } else if (/^[1-9]$/.test(event.key)) {
    state.cells[state.selected] = event.key;
  } else if (["0", ".", " ", "Backspace", "Delete"].includes(event.key)) {
    state.cells[state.selected] = "0";
  } else {
    return;
  }
  event.preventDefault();
  if (!(event.key in moves)) edited();
  $("puzzle-text").value = puzzleText();
  paintEditor();
}

// The text box drives the grid when it holds a whole puzzle; the server checks it either way.
function readText() {
  edited();
  const text = $("puzzle-text").value;
  let cells;
  if (state.task === "sudoku") {
    cells = [];
    for (const ch of text) {
      if (/[1-9]/.test(ch)) cells.push(ch);
      else if (ch === "0" || ch === ".") cells.push("0");
      else if (!/[\s|+-]/.test(ch)) return;
    }
  } else {
    cells = text.replace(/\s/g, "").split("");
    if (cells.some((ch) => !".#SE".includes(ch))) return;
  }
  if (cells.length !== state.size * state.size) return;
  state.cells = cells;
  paintEditor();
}

// ---------------------------------------------------------------------------------------------
// Talking to the server

async function api(path, body) {
  const options = body ? { method: "POST", headers: { "Content-Type": "application/json" },
                           body: JSON.stringify(body) } : {};
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function busy(button, work) {
  button.disabled = true;
  $("error").textContent = "";
  try {
    await work();
  } catch (error) {
    $("error").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

function newPuzzle(button, query) {
  return busy(button, async () => {
    const params = new URLSearchParams({ task: state.task, ...query });
    const puzzle = await api("/api/puzzle?" + params);
    const what = puzzle.rating !== null ? `rated ${puzzle.rating}` : puzzle.difficulty || "board";
    showPuzzle(puzzle.puzzle, `(${what}, seed ${puzzle.seed})`);
  });
}

function solve() {
  return busy($("solve"), async () => {
    const trace = await api("/api/solve", {
      task: state.task, puzzle: $("puzzle-text").value,
      views: Number($("views").value), no_halt: $("no-halt").checked,
    });
    showTrace(trace);
    play();
  });
}

function selectTask(task) {
  state.task = task;
  state.size = state.info.tasks[task].size;
  document.body.className = "task-" + task;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.task === task);
  const views = $("views");
  views.replaceChildren(...[1, 2, 4, 8].filter((k) => k <= state.info.max_views).map((k) => new Option(k, k)));
  makeGrid($("edit-grid"), task, state.size, editCell);
  if (task === "sudoku") return newPuzzle($("new-difficulty"), { difficulty: $("difficulty").value });
  return newPuzzle($("new-board"), {});
}

// ---------------------------------------------------------------------------------------------
// Playing a trace

function showTrace(trace) {
  state.trace = trace;
  makeGrid($("trace-grid"), trace.task, trace.size, null);
  const strip = $("views-strip");
  strip.replaceChildren();
  if (trace.views.length > 1) {
    trace.views.forEach((view, k) => {
      const box = document.createElement("div");
      box.className = "view" + (k === trace.chosen_view ? " chosen" : "");
      const grid = document.createElement("div");
      makeGrid(grid, trace.task, trace.size, null);
      const title = document.createElement("div");
      title.textContent = `view ${k + 1}: ` + (view.halted_at ? `halted at ${view.halted_at}` : "no halt");
      const status = document.createElement("div");
      status.textContent = (view.accepted ? "accepted" : "not accepted") + (k === trace.chosen_view ? ": the answer" : "");
      box.append(grid, title, status);
      strip.appendChild(box);
    });
  }
  const last = trace.views.reduce((n, view) => Math.max(n, view.frames.length), 0);
  $("step").max = last;
  $("viewer").dataset.last = last;
  showStep(1);
}

function frameAt(view, step) {
  return view.frames[Math.min(step, view.frames.length) - 1];
}

function showStep(step) {
  const trace = state.trace;
  state.step = step;
  $("step").value = step;
  $("viewer").dataset.step = step;
  const main = trace.views[0];
  const frame = frameAt(main, step);
  paintGrid($("trace-grid"), trace.task, trace.size, trace.puzzle, frame.board, new Set(frame.changed),
            new Set(frame.wrong));
  const last = Number($("step").max);
  $("step-label").textContent = `${step} / ${last}`;
  const halt = frame.halts ? (main.halted_at === frame.segment ? ": halt" : " (says halt)") : "";
  $("q-values").innerHTML = `Segment ${frame.segment}: <span class="halt">Q halt ${frame.q_halt.toFixed(3)}</span>,` +
                            ` <span class="continue">continue ${frame.q_continue.toFixed(3)}</span>${halt}`;
  const strip = $("views-strip").children;
  trace.views.forEach((view, k) => {
    if (!strip[k]) return;
    const f = frameAt(view, step);
    paintGrid(strip[k].firstChild, trace.task, trace.size, trace.puzzle, f.board, new Set(f.changed), new Set(f.wrong));
  });
  drawChart(main, frame.segment);
  showVerdict(frame, step === last);
}

function showVerdict(frame, atEnd) {
  const trace = state.trace;
  const verdict = $("verdict");
  let text;
  if (trace.task === "sudoku") {
    const blanks = [...trace.puzzle].filter((ch) => ch === "0").length;
    text = `${blanks - frame.wrong.length} / ${blanks} blanks right`;
  } else {
    text = frame.solved ? "a shortest path" : `${frame.wrong.length} path cells off a shortest path`;
  }
  if (atEnd) {
    const where = trace.views[0].halted_at ? `halted by the Q head at segment ${trace.views[0].halted_at}`
                                           : `no halt within ${trace.max_segments} segments`;
    const views = trace.views.length > 1
      ? (trace.accepted ? `; answer from view ${trace.chosen_view + 1} of ${trace.views.length}, accepted by the checker`
                        : `; no view accepted by the checker, the per-cell vote`)
      : "";
    text = `${trace.solved ? "Solved" : "Not solved"}: ${where}${views}`;
    verdict.className = trace.solved ? "solved" : "unsolved";
  } else {
    verdict.className = "";
  }
  verdict.textContent = text;
}

// Q halt and Q continue (sigmoids) per segment of the puzzle as given, a dashed line where it halted.
function drawChart(view, segment) {
  const svg = $("chart");
  svg.replaceChildren();
  const left = 30, right = 330, top = 10, bottom = 105;
  const count = Math.max(view.frames.length, 2);
  const x = (s) => left + ((s - 1) / (count - 1)) * (right - left);
  const y = (q) => bottom - q * (bottom - top);
  const add = (tag, attributes, text) => {
    const element = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    svg.appendChild(element);
    return element;
  };
  add("line", { class: "now", x1: x(segment), x2: x(segment), y1: top, y2: bottom });
  add("line", { class: "axis", x1: left, x2: right, y1: bottom, y2: bottom });
  add("line", { class: "axis", x1: left, x2: left, y1: top, y2: bottom });
  for (const q of [0, 0.5, 1]) add("text", { x: left - 4, y: y(q) + 3, "text-anchor": "end" }, q);
  const ticks = new Set([1, view.frames.length, ...view.frames.map((f) => f.segment).filter((s) => s % 4 === 0)]);
  for (const s of ticks) add("text", { x: x(s), y: bottom + 12, "text-anchor": "middle" }, s);
  add("text", { x: right, y: bottom + 24, "text-anchor": "end" }, "segment");
  for (const [key, name] of [["q_halt", "halt"], ["q_continue", "continue"]]) {
    const points = view.frames.map((f) => `${x(f.segment)},${y(f[key])}`).join(" ");
    add("polyline", { class: "q-" + name, points });
    for (const f of view.frames) add("circle", { class: "dot-" + name, cx: x(f.segment), cy: y(f[key]), r: 2.5 });
  }
  if (view.halted_at) {
    add("line", { class: "halt-mark", x1: x(view.halted_at), x2: x(view.halted_at), y1: top, y2: bottom });
    const nearEnd = x(view.halted_at) > right - 30;
    add("text", { x: x(view.halted_at) + (nearEnd ? -3 : 3), y: top + 8, "text-anchor": nearEnd ? "end" : "start" },
        "halt");
  }
  add("line", { class: "q-halt", x1: left, x2: left + 18, y1: bottom + 21, y2: bottom + 21 });
  add("text", { x: left + 22, y: bottom + 24 }, "Q halt");
  add("line", { class: "q-continue", x1: left + 70, x2: left + 88, y1: bottom + 21, y2: bottom + 21 });
  add("text", { x: left + 92, y: bottom + 24 }, "Q continue");
}

function play() {
  const last = Number($("step").max);
  pause();
  if (state.step >= last) showStep(1);
  if (state.step >= last) return;  // one frame: nothing to play
  $("viewer").dataset.playing = "true";
  $("play").innerHTML = "&#10074;&#10074;";
  state.timer = setInterval(() => {
    showStep(state.step + 1);
    if (state.step >= last) pause();
  }, FRAME_MS);
}

function pause() {
  clearInterval(state.timer);
  state.timer = null;
  $("viewer").dataset.playing = "false";
  $("play").innerHTML = "&#9654;";
}

// ---------------------------------------------------------------------------------------------
// Start: the server's page, or one embedded trace (`infer --html`)

function wireViewer() {
  $("play").addEventListener("click", () => (state.timer ? pause() : state.trace && play()));
  $("step").addEventListener("input", () => {
    pause();
    if (state.trace) showStep(Number($("step").value));
  });
}

async function start() {
  wireViewer();
  const embedded = $("trace-data");
  if (embedded) {
    const trace = JSON.parse(embedded.textContent);
    document.body.className = "standalone task-" + trace.task;
    $("models").textContent = embedded.dataset.title || "";
    showTrace(trace);
    play();
    return;
  }
  try {
    state.info = await api("/api/info");
  } catch (error) {
    $("error").textContent = error.message;
    return;
  }
  const tasks = state.info.tasks;
  $("models").textContent = Object.entries(tasks).map(([t, m]) => `${t}: ${m.checkpoint}`).join(" · ");
  $("difficulty").replaceChildren(...state.info.difficulties.map((d) => new Option(d, d, false, d === "medium")));
  $("rating").replaceChildren(...state.info.ratings.map((r) => new Option(r, r)));
  for (const tab of document.querySelectorAll(".tab")) {
    tab.hidden = !(tab.dataset.task in tasks);
    tab.addEventListener("click", () => selectTask(tab.dataset.task));
  }
  $("new-difficulty").addEventListener("click", (e) => newPuzzle(e.target, { difficulty: $("difficulty").value }));
  $("new-rating").addEventListener("click", (e) => newPuzzle(e.target, { rating: $("rating").value }));
  $("new-board").addEventListener("click", (e) => newPuzzle(e.target, {}));
  $("edit-grid").addEventListener("keydown", typeDigit);
  $("puzzle-text").addEventListener("input", readText);
  $("solve").addEventListener("click", solve);
  await selectTask("sudoku" in tasks ? "sudoku" : Object.keys(tasks)[0]);
}

start();
