/**
 * The dashboard's one script (served as /dashboard/app.js), plain browser JavaScript with no
 * dependencies:
 * - the build log: reads `/builds/:key/log?follow=1` as Server-Sent Events (each line an event
 *   whose id is its number), renders ANSI colours as spans (text only through textContent, so a
 *   log can never inject markup), numbers lines with #L links, and keeps to the end until the
 *   user scrolls up (and again once they scroll back down);
 * - live pages: on each `build` event of `/events`, re-reads the page and swaps its `data-live`
 *   regions, keeping the focused button focused (keyboard users do not lose their place).
 */
export const clientScript = String.raw`
const COLOURS = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

function ansiSpans(text) {
  const out = [];
  let style = { fg: null, bg: null, bold: false };
  const re = /\x1b\[([0-9;]*)([A-Za-z])/g;
  let last = 0;
  let m;
  const push = (chunk) => {
    if (!chunk) return;
    const span = document.createElement("span");
    span.textContent = chunk;
    const classes = [];
    if (style.fg) classes.push("fg-" + style.fg);
    if (style.bg) classes.push("bg-" + style.bg);
    if (style.bold) classes.push("bold");
    if (classes.length) span.className = classes.join(" ");
    out.push(span);
  };
  while ((m = re.exec(text))) {
    push(text.slice(last, m.index));
    last = re.lastIndex;
    if (m[2] !== "m") continue;
    const codes = m[1] === "" ? [0] : m[1].split(";").map(Number);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) style = { fg: null, bg: null, bold: false };
      else if (c === 1) style.bold = true;
      else if (c === 22) style.bold = false;
      else if (c >= 30 && c <= 37) style.fg = COLOURS[c - 30];
      else if (c >= 90 && c <= 97) style.fg = "bright-" + COLOURS[c - 90];
      else if (c === 39) style.fg = null;
      else if (c >= 40 && c <= 47) style.bg = COLOURS[c - 40];
      else if (c === 49) style.bg = null;
      else if (c === 38 || c === 48) i += codes[i + 1] === 5 ? 2 : 4;
    }
  }
  push(text.slice(last).replace(/\x1b[^a-zA-Z]*[a-zA-Z]?/g, ""));
  return out;
}

function renderLine(number, data) {
  const line = document.createElement("div");
  line.className = "line";
  line.id = "L" + number;
  const link = document.createElement("a");
  link.href = "#L" + number;
  link.textContent = String(number);
  link.setAttribute("aria-label", "line " + number);
  link.tabIndex = -1;
  const text = document.createElement("span");
  text.className = "text";
  for (const span of ansiSpans(data)) text.append(span);
  line.append(link, text);
  return line;
}

function followLog(box) {
  const state = document.getElementById("log-state");
  let stick = true;
  box.addEventListener("scroll", () => {
    stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  });
  const wanted = location.hash.startsWith("#L") ? location.hash.slice(1) : null;
  const source = new EventSource(box.dataset.stream);
  if (state) state.textContent = "Following the log…";
  // A long log (a 50 MB one is 500,000 lines) must not freeze the page: lines arrive into a
  // buffer and reach the page once per frame, in one fragment, with one scroll; and the page
  // keeps the last MAX_LINES lines only (the raw download has them all).
  const MAX_LINES = 10000;
  let queued = [];
  let frame = 0;
  let dropped = 0;
  const note = document.createElement("div");
  note.className = "line note";
  const flush = () => {
    frame = 0;
    // More than the page keeps arrived at once: render only the newest of them.
    if (queued.length > MAX_LINES) {
      dropped += queued.length - MAX_LINES;
      queued = queued.slice(-MAX_LINES);
    }
    const fragment = document.createDocumentFragment();
    for (const [number, data] of queued) fragment.append(renderLine(number, data));
    queued = [];
    box.append(fragment);
    const noted = note.parentNode === box ? 1 : 0;
    for (let count = box.childElementCount - noted; count > MAX_LINES; count--) {
      const first = noted ? note.nextElementSibling : box.firstElementChild;
      if (!first) break;
      first.remove();
      dropped++;
    }
    if (dropped) {
      note.textContent = dropped + " earlier lines are not shown here; download the raw log to read them.";
      if (note.parentNode !== box) box.prepend(note);
    }
    const target = wanted ? document.getElementById(wanted) : null;
    if (target && !target.classList.contains("target")) {
      target.classList.add("target");
      target.scrollIntoView({ block: "center" });
      stick = false;
    } else if (stick) box.scrollTop = box.scrollHeight;
  };
  source.onmessage = (event) => {
    queued.push([Number(event.lastEventId), event.data]);
    if (!frame) frame = requestAnimationFrame(flush);
  };
  source.addEventListener("end", () => {
    if (frame) {
      cancelAnimationFrame(frame);
      flush();
    }
    source.close();
    box.dataset.ended = "true";
    if (state) state.textContent = "The build has ended.";
    refresh();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && state) state.textContent = "The log stream closed; reload to read on.";
  };
}

let pending = null;
async function refresh() {
  const answer = await fetch(location.href, { headers: { accept: "text/html" } });
  if (!answer.ok || answer.redirected) return;
  const page = new DOMParser().parseFromString(await answer.text(), "text/html");
  const focused = document.activeElement;
  const form = focused && focused.closest ? focused.closest("form") : null;
  const again = form ? form.getAttribute("action") + "|" + focused.textContent : null;
  for (const region of document.querySelectorAll("[data-live]")) {
    const fresh = page.getElementById(region.id);
    if (fresh) region.replaceWith(fresh);
  }
  const title = page.querySelector("h1");
  const h1 = document.querySelector("h1");
  if (title && h1) h1.replaceWith(title);
  if (again) {
    for (const button of document.querySelectorAll("form button")) {
      if (button.closest("form").getAttribute("action") + "|" + button.textContent === again) button.focus();
    }
  }
}

function live() {
  if (!document.querySelector("[data-live]")) return;
  const events = new EventSource("/events");
  events.addEventListener("build", () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 250);
  });
}

const box = document.getElementById("log");
if (box) followLog(box);
live();
`;
