// Drives Debian's Chromium through a running dashboard, for tests/browser.rs.
//
// node check.mjs BASE_URL SCREENSHOT_DIR CHROMIUM_PATH WORKSHOP PACKAGE HOSTILE_WORKSHOP HOSTILE_PACKAGE [HOST_PATH HOST_WORKSHOP]
//
// HOST_PATH, a host's private page (of HOST_WORKSHOP), is visited like the others, and its
// live update is checked too.
//
// Loads every page twice: as served (with its Content-Security-Policy), and with the policy
// bypassed, so escaping alone must keep the learners' strings inert. Fails (exit 1) on a
// console error, a page error, a dialog, a request to another host, a script that ran from a
// learner's string, or a live page that did not pick up a new report. Prints one JSON line.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, shots, executablePath, workshop, pkg, hostileWorkshop, hostilePackage, hostPath, hostWorkshop] =
  process.argv.slice(2);
const origin = new URL(base).origin;
const problems = [];
const visited = [];

const q = encodeURIComponent;
const pages = [
  ["landing", "/"],
  ["overview", "/view/"],
  ["overview-all-attempts", "/view/?all_attempts=1"],
  ["workshop", `/view/${q(workshop)}/`],
  ["detail", `/view/detail/?package_one_name=${q(pkg)}`],
  ["compare", `/view/detail/?package_one_name=${q(pkg)}&package_two_name=${q("Python (python)")}`],
  ["hostile-workshop", `/view/${q(hostileWorkshop)}/`],
  ["hostile-detail", `/view/detail/?package_one_name=${q(hostilePackage)}&workshop_id=${q(hostileWorkshop)}`],
  ["hostile-landing", `/?workshop=${q(hostileWorkshop)}`],
  ["fixes", "/fixes/?min_learners=1"],
  ["hostile-fixes", `/fixes/?workshop_id=${q(hostileWorkshop)}&min_learners=1`],
];
if (hostPath) {
  pages.push(["host", hostPath], ["host-not-ready", `${hostPath}?show=not-ready&sort=system&order=desc`]);
}

mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

// Watches one context: every request, console message, page error and dialog.
function watch(context, label) {
  context.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin + "/") && !url.startsWith("data:")) {
      problems.push(`${label}: a request to another host: ${url}`);
    }
  });
  context.on("page", (page) => {
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") {
        problems.push(`${label}: console ${message.type()} on ${page.url()}: ${message.text()}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`${label}: page error on ${page.url()}: ${error}`));
    page.on("dialog", (dialog) => {
      problems.push(`${label}: a dialog (${dialog.type()}: ${dialog.message()}) on ${page.url()}`);
      dialog.dismiss().catch(() => {});
    });
  });
  // Nothing may leave for another host, even if a page asked: refuse it and record it.
  return context.route("**/*", (route) => {
    const url = route.request().url();
    return url.startsWith(origin + "/") ? route.continue() : route.abort();
  });
}

// Loads a page and checks that no learner's string ran as script.
async function visit(page, label, name, path, screenshot) {
  const response = await page.goto(base + path, { waitUntil: "networkidle" });
  if (!response || response.status() !== 200) {
    problems.push(`${label}: ${path} answered ${response && response.status()}`);
  }
  const state = await page.evaluate(() => ({
    title: document.title,
    xss: window.__xss,
    live: document.getElementById("live-status")?.textContent ?? "",
    bars: document.querySelectorAll("svg.chart rect.bar").length,
    fontsOk: document.fonts.status,
  }));
  if (state.title === "pwned" || state.xss !== undefined) {
    problems.push(`${label}: a learner's string ran as script on ${path}: ${JSON.stringify(state)}`);
  }
  if (!state.live.startsWith("Live")) {
    problems.push(`${label}: the live-update script did not start on ${path}: "${state.live}"`);
  }
  if (screenshot) {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }
  visited.push({ label, name, path, title: state.title, bars: state.bars });
}

// As served: with the Content-Security-Policy.
const served = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await watch(served, "served");
const page = await served.newPage();
for (const [name, path] of pages) {
  await visit(page, "served", name, path, true);
}

// Narrow screens get the same content, stacked.
const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
await watch(phone, "phone");
const small = await phone.newPage();
await visit(small, "phone", "overview-phone", "/view/", true);
await visit(small, "phone", "detail-phone", pages[4][1], true);

// With the policy bypassed: only escaping stands between a learner's string and the page.
const bare = await browser.newContext({ bypassCSP: true });
await watch(bare, "no-csp");
const unprotected = await bare.newPage();
for (const [name, path] of pages) {
  await visit(unprotected, "no-csp", name, path, false);
}

// A live page picks up a new report without a reload: it appears in `table` as `text`.
async function checkLive(path, system, text, table, shot) {
  await page.goto(base + path, { waitUntil: "networkidle" });
  const before = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  const posted = await fetch(base + "/installation_data/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...system, successful_installs: [] }),
  });
  if (posted.status !== 200) {
    problems.push(`posting the live-check report for ${shot} answered ${posted.status}`);
  }
  try {
    await page.locator(table).getByText(text, { exact: true }).first().waitFor({ timeout: 15000 });
    const after = await page.evaluate(() => performance.getEntriesByType("navigation").length);
    if (after !== before || page.url() !== base + path) {
      problems.push(`${shot}: the page was reloaded instead of updated`);
    }
    await page.screenshot({ path: join(shots, `${shot}.png`), fullPage: true });
  } catch (e) {
    problems.push(`${shot}: no new report within 15 s: ${e.message.split("\n")[0]}`);
  }
}

const fresh = `Live-check package ${Date.now()}`;
await checkLive(`/view/${q(workshop)}/`, {
  user_system_info: { system: "Linux", workshop_id: workshop },
  failed_installs: [{ name: fresh, version: "1.0", error_description: "not found" }],
}, fresh, "main table", "workshop-live-updated");
if (hostPath) {
  const late = `late-${Date.now()}@example.org`;
  await checkLive(hostPath, {
    user_system_info: { system: "Linux", workshop_id: hostWorkshop, email_id: late },
    failed_installs: [{ name: "Git (git)", version: "1.8", error_description: "version 1.8 < required 2.0" }],
  }, late, "main table.learners", "host-live-updated");
}

await browser.close();
console.log(JSON.stringify({ visited: visited.length, problems, shots }));
process.exit(problems.length === 0 ? 0 : 1);
