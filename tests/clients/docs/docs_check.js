// Loads BASE_URL/docs in headless Chromium (puppeteer-core) and checks the
// rendered page against BASE_URL/openapi.json: every operation (path x
// method) shown exactly once, inside the section of its first tag; sections
// in the order of the spec's top-level `tags` (tags missing from that list
// after them, untagged operations last); the invite section there with all
// invite operations; "Try it" reaching the server; and no console error,
// uncaught exception, CSP violation or request to another origin.
//
// Usage: node docs_check.js BASE_URL   (run by scripts/docs-browser)
// CHROMIUM: the browser to drive (default /usr/bin/chromium).
// COLLABD_DOCS_PAGE: serve this file as /docs instead of the server's page,
// with the server's own CSP header: checks an edited src/http/docs.html
// without rebuilding the binary.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

// The page shows these methods; anything else under a path item is not an operation.
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// What the spec says the page must show: [{ key, method, path, operationId, tag }].
export function specOperations(spec) {
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const tag = (op.tags || [])[0] || "";
      ops.push({ key: `${method.toUpperCase()} ${path}`, method, path, operationId: op.operationId || "", tag });
    }
  }
  return ops;
}

// rendered: { sections: [tag, ...] in page order, operations: [{ method, path, operationId, tag }] }
// where tag is the data-tag of the section holding the operation (null: none).
// Returns the list of mismatches; empty means the page is right.
export function compare(spec, rendered) {
  const problems = [];
  const ops = specOperations(spec);
  const listed = [...new Set((spec.tags || []).map(t => t.name))];
  const name = tag => (tag === "" ? "(untagged)" : tag);

  // Sections: one per tag, listed tags first in spec order, then unlisted tags, untagged last.
  const seen = new Set();
  for (const tag of rendered.sections) {
    if (seen.has(tag)) problems.push(`section ${name(tag)} appears more than once`);
    seen.add(tag);
  }
  const used = new Set(ops.map(o => o.tag));
  const unlisted = [...used].filter(t => t !== "" && !listed.includes(t));
  const wanted = [...listed, ...unlisted, ...(used.has("") ? [""] : [])];
  for (const tag of wanted) if (!seen.has(tag)) problems.push(`no section for tag ${name(tag)}`);
  for (const tag of seen) if (!wanted.includes(tag)) problems.push(`section ${name(tag)} is no tag of the spec`);
  const order = rendered.sections.filter(t => wanted.includes(t));
  const rank = t => (listed.includes(t) ? listed.indexOf(t) : t === "" ? listed.length + 1 : listed.length);
  for (let i = 1; i < order.length; i++) {
    if (rank(order[i - 1]) > rank(order[i])) {
      problems.push(`sections out of order: page has ${order.map(name).join(", ")}; ` +
        `spec order is ${listed.join(", ")}${unlisted.length ? ", then " + unlisted.join(", ") : ""}`);
      break;
    }
  }

  // Operations: each exactly once, under its own tag, with its operationId.
  const shown = new Map();
  for (const op of rendered.operations) {
    const key = `${op.method.toUpperCase()} ${op.path}`;
    if (!shown.has(key)) shown.set(key, []);
    shown.get(key).push(op);
  }
  for (const op of ops) {
    const found = shown.get(op.key) || [];
    shown.delete(op.key);
    if (found.length === 0) { problems.push(`${op.key} (${op.operationId}) is missing`); continue; }
    if (found.length > 1) problems.push(`${op.key} is shown ${found.length} times`);
    for (const f of found) {
      if (f.tag === null) problems.push(`${op.key} is outside any tag section`);
      else if (f.tag !== op.tag) problems.push(`${op.key} is under ${name(f.tag)}, its tag is ${name(op.tag)}`);
      if (f.operationId !== op.operationId) problems.push(`${op.key} shows operationId "${f.operationId}", spec says "${op.operationId}"`);
    }
  }
  for (const key of shown.keys()) problems.push(`${key} is on the page but not in the spec`);

  // The acceptance item names invite: say so plainly when it is the invite module that is wrong.
  const invite = ops.filter(o => o.tag === "invite");
  const inviteShown = rendered.operations.filter(o => o.tag === "invite").length;
  if (!listed.includes("invite")) problems.push("the spec's top-level tags have no invite");
  if (invite.length === 0) problems.push("the spec has no invite operation");
  if (!rendered.sections.includes("invite")) problems.push("the page has no invite section");
  else if (inviteShown !== invite.length) problems.push(`invite section shows ${inviteShown} operations, the spec has ${invite.length}`);
  return problems;
}

async function main(base) {
  const { default: puppeteer } = await import("puppeteer-core");
  const origin = new URL(base).origin;
  const spec = await (await fetch(`${base}/openapi.json`)).json();
  let pageBody = null;
  const override = process.env.COLLABD_DOCS_PAGE;
  let csp = null;
  if (override) {
    const real = await fetch(`${base}/docs`);
    csp = real.headers.get("content-security-policy");
    pageBody = readFileSync(override, "utf8");
  }

  const errors = [];
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox will not start.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    page.on("console", msg => {
      if (msg.type() === "error") errors.push(`console error: ${msg.text()} ${msg.location().url || ""}`.trim());
    });
    page.on("pageerror", err => errors.push(`uncaught exception: ${err.message}`));
    page.on("requestfailed", req => errors.push(`request failed: ${req.url()} ${req.failure()?.errorText || ""}`));
    await page.evaluateOnNewDocument(() => {
      document.addEventListener("securitypolicyviolation", e =>
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
    });
    if (override) await page.setRequestInterception(true);
    page.on("request", req => {
      const url = req.url();
      if (!url.startsWith("data:") && new URL(url).origin !== origin) errors.push(`request to another origin: ${url}`);
      if (!override) return;
      if (url === `${base}/docs`) {
        const headers = { "content-type": "text/html; charset=utf-8" };
        if (csp) headers["content-security-policy"] = csp;
        req.respond({ status: 200, headers, body: pageBody });
      } else {
        req.continue();
      }
    });

    const response = await page.goto(`${base}/docs`, { waitUntil: "load" });
    if (!response.ok()) throw new Error(`GET /docs answered ${response.status()}`);
    if (!response.headers()["content-security-policy"]) errors.push("GET /docs has no Content-Security-Policy header");
    await page.waitForFunction(() => document.body.dataset.state !== "loading", { timeout: 15000 })
      .catch(() => errors.push("the page did not finish rendering within 15 s (body data-state stays loading)"));
    const state = await page.evaluate(() => document.body.dataset.state);
    if (state !== "ready") {
      const text = (await page.evaluate(() => document.getElementById("main")?.textContent || "")).slice(0, 200);
      errors.push(`page state is ${state}, not ready (body data-state); the page says: ${text}`);
    }

    const rendered = await page.evaluate(() => ({
      sections: [...document.querySelectorAll("section[data-tag]")].map(s => s.dataset.tag),
      operations: [...document.querySelectorAll("[data-operation-id]")].map(o => ({
        method: o.dataset.method || "", path: o.dataset.path || "", operationId: o.dataset.operationId,
        tag: o.closest("section[data-tag]")?.dataset.tag ?? null,
      })),
    }));

    // "Try it": open the first GET operation, send it, expect an HTTP status back.
    // Any status will do (Chromium logs a 4xx answer as a console error: not the page's fault).
    const tried = await page.$("details[data-method=get]");
    if (tried) {
      const before = errors.length;
      await tried.evaluate(d => { d.open = true; });
      const button = await tried.$("button");
      await button.click();
      await tried.waitForSelector("pre", { timeout: 1000 });
      await page.waitForFunction(d => /^\d{3} /.test(d.querySelector("pre").textContent), { timeout: 10000 }, tried)
        .catch(async () => errors.push(`"Try it" on ${await tried.evaluate(d => d.dataset.path)} got no HTTP answer: ` +
          await tried.evaluate(d => d.querySelector("pre").textContent)));
      errors.splice(before, Infinity, ...errors.slice(before)
        .filter(e => !/^console error: Failed to load resource: the server responded with a status of \d+/.test(e)));
    }

    const problems = [...compare(spec, rendered), ...errors];
    if (problems.length) {
      console.error(`docs-browser: FAILED, ${problems.length} problem(s) with ${base}/docs${override ? ` (page from ${override})` : ""}:`);
      for (const p of problems) console.error(`  - ${p}`);
      process.exitCode = 1;
      return;
    }
    const counts = rendered.sections.map(t => `${t || "(untagged)"} ${rendered.operations.filter(o => o.tag === t).length}`);
    console.log(`docs-browser: ${base}/docs${override ? ` (page from ${override})` : ""} shows all ` +
      `${rendered.operations.length} operations of /openapi.json, each once, by module in spec tag order: ${counts.join(", ")}`);
    console.log(`docs-browser: invite section holds all ${rendered.operations.filter(o => o.tag === "invite").length} invite operations; ` +
      `"Try it" answered; no console error, CSP violation or outside request`);
  } finally {
    await browser.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.argv[2]) {
    console.error("usage: node docs_check.js BASE_URL");
    process.exit(2);
  }
  main(process.argv[2].replace(/\/$/, "")).catch(err => {
    console.error(`docs-browser: FAILED: ${err.stack || err}`);
    process.exitCode = 1;
  });
}
