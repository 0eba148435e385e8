// Every email in every language in headless Chromium: `collabd templates
// DIR` rendered each (HTML and text) with sample values; this opens each HTML
// email as a mail client's view would (its own document, no network), checks
// that it is whole (its language, the product's name, its sentences rather
// than message ids or template syntax, a working link where it has one, no
// console error) and keeps a screenshot of each under OUT.
//
// Usage: node mails_render.js PREVIEW_DIR OUT_DIR   (run by scripts/docs-browser)
// CHROMIUM: the browser to drive (default /usr/bin/chromium).
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [previews, out] = process.argv.slice(2);
if (!previews || !out) {
  console.error("usage: node mails_render.js PREVIEW_DIR OUT_DIR");
  process.exit(2);
}
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };
// A phrase every email has in its language (the product name is collabd).
const spoken = { en: /[Tt]he |you|your/, sv: /[Dd]u |din |ditt |och /, };

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless=new"],
});
let shots = 0;
try {
  for (const language of readdirSync(previews).sort()) {
    mkdirSync(join(out, language), { recursive: true });
    const files = readdirSync(join(previews, language)).filter(f => f.endsWith(".html")).sort();
    check(files.length === 10, `${language}: 10 emails, found ${files.length}`);
    for (const file of files) {
      const what = `${language}/${file}`;
      const html = readFileSync(join(previews, language, file), "utf8");
      const page = await browser.newPage();
      const errors = [];
      page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
      page.on("pageerror", e => errors.push(String(e)));
      await page.setViewport({ width: 800, height: 600 });
      await page.setContent(html, { waitUntil: "load" });
      const seen = await page.evaluate(() => ({
        lang: document.documentElement.lang,
        title: document.title,
        text: document.body.innerText,
        links: [...document.querySelectorAll("a")].map(a => a.href),
      }));
      check(seen.lang === language, `${what}: lang ${seen.lang}`);
      check(seen.title.length > 5, `${what}: a title`);
      check(seen.text.includes("collabd"), `${what}: the product's name`);
      check(spoken[language] ? spoken[language].test(seen.text) : true, `${what}: reads as ${language}: ${seen.text}`);
      check(!/\{\{|\{%|\{ *\$/.test(seen.text), `${what}: no template or message syntax left: ${seen.text}`);
      const text = readFileSync(join(previews, language, file.replace(/\.html$/, ".txt")), "utf8");
      const link = text.match(/https:\/\/panel\.example\/\S+/);
      if (link) check(seen.links.includes(link[0]), `${what}: the button goes to ${link[0]}`);
      check(errors.length === 0, `${what}: console errors ${errors.join("; ")}`);
      await page.screenshot({ path: join(out, language, file.replace(/\.html$/, ".png")), fullPage: true });
      shots += 1;
      await page.close();
    }
  }
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(`mails_render: ${problems.length} problem(s):\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`mails_render: ${shots} emails rendered in Chromium; screenshots in ${out}`);
