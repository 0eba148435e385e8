// Every email and page in every language in headless Chromium: `collabd
// templates DIR` rendered each (an email's HTML and text, a page's HTML) with
// sample values; this opens each HTML email as a mail client's view would
// (its own document, no network), and each page with its script running,
// checks that it is whole (its language, the product's name, its sentences
// rather than message ids or template syntax, a working link where an email
// has one, no console error) and keeps a screenshot of each under OUT
// (pages under OUT/<language>/pages/).
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
const spoken = {
  en: /(^|\s)(the|you|your|this)(\s|$|[.,:;])/i,
  sv: /(^|\s)(du|din|ditt|och|den|är|inte)(\s|$|[.,:;])/i,
};

// Opens `html` as its own document; what it shows, and its console errors.
async function show(html, shot) {
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
  await page.screenshot({ path: shot, fullPage: true });
  await page.close();
  return { ...seen, errors };
}

// What every email and page must be in `language`.
function whole(what, seen, language) {
  check(seen.lang === language, `${what}: lang ${seen.lang}`);
  check(seen.title.length > 5, `${what}: a title`);
  check(seen.text.includes("collabd"), `${what}: the product's name`);
  check(spoken[language] ? spoken[language].test(seen.text) : true, `${what}: reads as ${language}: ${seen.text}`);
  check(!/\{\{|\{%|\{ *\$/.test(seen.text), `${what}: no template or message syntax left: ${seen.text}`);
  check(seen.errors.length === 0, `${what}: console errors ${seen.errors.join("; ")}`);
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless=new"],
});
let shots = 0;
let pageShots = 0;
try {
  for (const language of readdirSync(previews).sort()) {
    mkdirSync(join(out, language), { recursive: true });
    const files = readdirSync(join(previews, language)).filter(f => f.endsWith(".html")).sort();
    check(files.length === 10, `${language}: 10 emails, found ${files.length}`);
    for (const file of files) {
      const what = `${language}/${file}`;
      const html = readFileSync(join(previews, language, file), "utf8");
      const seen = await show(html, join(out, language, file.replace(/\.html$/, ".png")));
      whole(what, seen, language);
      const text = readFileSync(join(previews, language, file.replace(/\.html$/, ".txt")), "utf8");
      const link = text.match(/https:\/\/panel\.example\/\S+/);
      if (link) check(seen.links.includes(link[0]), `${what}: the button goes to ${link[0]}`);
      shots += 1;
    }
    mkdirSync(join(out, language, "pages"), { recursive: true });
    const pages = readdirSync(join(previews, language, "pages")).filter(f => f.endsWith(".html")).sort();
    check(pages.length === 8, `${language}: 8 pages, found ${pages.length}`);
    for (const file of pages) {
      const html = readFileSync(join(previews, language, "pages", file), "utf8");
      const seen = await show(html, join(out, language, "pages", file.replace(/\.html$/, ".png")));
      whole(`${language}/pages/${file}`, seen, language);
      pageShots += 1;
    }
  }
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(`mails_render: ${problems.length} problem(s):\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`mails_render: ${shots} emails and ${pageShots} pages rendered in Chromium; screenshots in ${out}`);
