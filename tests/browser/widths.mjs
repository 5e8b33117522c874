// Loads pages of a running dashboard at a desktop's and a phone's width, for tests/browser.rs.
//
// node widths.mjs BASE_URL SCREENSHOT_DIR CHROMIUM_PATH NAME=PATH...
//
// At each width, fails (exit 1) on a console error or warning, a page error, a status other
// than 200, a table heading broken inside a word, and a chart over time that opens scrolled
// away from its latest days; at the phone's width also on an element whose right edge passes
// the viewport's (outside a wrapper that scrolls sideways).
// Saves NAME-1280.png and NAME-390.png. Prints one JSON line.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, shots, executablePath, ...named] = process.argv.slice(2);
const pages = named.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]);
const problems = [];
let visited = 0;

mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

// What overflows at this width: elements past the right edge that no scrolling wrapper holds,
// and table headings whose words were broken (a heading wider inside than its box, or a word
// split over two lines).
function measure() {
  const width = document.documentElement.clientWidth;
  const scrolls = (e) => {
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll" || x === "hidden") return true;
    }
    return false;
  };
  const name = (e) => `${e.tagName.toLowerCase()}${e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""} "${(e.textContent || "").trim().slice(0, 40)}"`;
  const overflowing = [];
  for (const e of document.body.querySelectorAll("*")) {
    const box = e.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    if (scrolls(e)) continue;
    overflowing.push(`${name(e)} reaches ${Math.round(box.right)} px`);
  }
  const broken = [];
  for (const th of document.querySelectorAll("thead th")) {
    // Each word of the heading must sit on one line: measure the words one by one.
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent;
      // A break after a hyphen ("git-" / "bash") is a break between words.
      for (const match of text.matchAll(/[^\s-]+-?/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(`"${match[0]}" in "${th.textContent.trim()}"`);
      }
    }
    if (th.scrollWidth > th.clientWidth + 1) broken.push(`"${th.textContent.trim()}" is wider than its cell`);
  }
  // A chart over time that scrolls must open at its latest days, where its table starts: its
  // right end in view.
  const stale = [];
  for (const chart of document.querySelectorAll("figure > .chart.over-time")) {
    const figure = chart.parentElement;
    const shown = figure.getBoundingClientRect();
    if (chart.getBoundingClientRect().right > shown.right + 1) {
      stale.push(`"${chart.getAttribute("aria-label")}" opens before its latest days`);
    }
  }
  return { overflowing: overflowing.slice(0, 5), broken, stale };
}

for (const [width, height, mobile] of [[1280, 900, false], [390, 844, true]]) {
  const context = await browser.newContext({ viewport: { width, height }, isMobile: mobile });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") {
      problems.push(`${width}: console ${m.type()} on ${page.url()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`${width}: page error on ${page.url()}: ${e}`));
  for (const [name, path] of pages) {
    const response = await page.goto(base + path, { waitUntil: "networkidle" });
    if (!response || response.status() !== 200) {
      problems.push(`${width}: ${path} answered ${response && response.status()}`);
    }
    const { overflowing, broken, stale } = await page.evaluate(measure);
    for (const t of stale) problems.push(`${width}: ${name}: ${t}`);
    if (width < 500) {
      for (const o of overflowing) problems.push(`${width}: ${name}: cut off at the right: ${o}`);
    }
    for (const b of broken) problems.push(`${width}: ${name}: a heading broken inside a word: ${b}`);
    await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
    visited += 1;
  }
  await context.close();
}

await browser.close();
console.log(JSON.stringify({ visited, problems }));
process.exit(problems.length === 0 ? 0 : 1);
