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

function followLog(box) {
  const state = document.getElementById("log-state");
  let stick = true;
  box.addEventListener("scroll", () => {
    stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  });
  const wanted = location.hash.startsWith("#L") ? location.hash.slice(1) : null;
  const source = new EventSource(box.dataset.stream);
  if (state) state.textContent = "Following the log…";
  source.onmessage = (event) => {
    const number = Number(event.lastEventId);
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
    for (const span of ansiSpans(event.data)) text.append(span);
    line.append(link, text);
    box.append(line);
    if (wanted === line.id) {
      line.classList.add("target");
      line.scrollIntoView({ block: "center" });
      stick = false;
    } else if (stick) box.scrollTop = box.scrollHeight;
  };
  source.addEventListener("end", () => {
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
