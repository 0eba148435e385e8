// Walks a person through an OpenID Connect sign-in in headless Chromium.
//
//   NODE signin.mjs START_URL LOGIN [SCREENSHOT_PATH]
//
// Opens START_URL (the relying party's page that redirects to the provider),
// fills the provider's login form (provider.mjs: fields login and password;
// any password), submits, confirms the consent form when one is shown, and
// waits until the browser is on a page that is not on the provider's origin
// (the relying party's callback, after any HTTP redirects). Then prints one
// line of JSON:
//
//   {"status": <HTTP status of that main-frame document>, "url": "...",
//    "text": "<document.body.innerText>"}
//
// and exits 0, whatever the status (the caller judges). Exits 1 after 30 s
// (OIDC_SIGNIN_TIMEOUT_MS) without getting there, or when the provider shows
// a page with neither form (an error page), with the reason on stderr.
//
// The provider's origin is OIDC_ISSUER's when set, otherwise the first origin
// other than START_URL's that the browser lands on. Chromium: CHROMIUM, or
// /usr/bin/chromium, installed with apt-get when missing (as root). The
// browser resolves no host name but localhost: nothing leaves the machine
// (the login page's web font import fails at once instead of hanging).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { modulePath } from './modules.mjs';

let browser = null;
function die(message) {
  process.stderr.write(`signin.mjs: ${message}\n`);
  browser?.process()?.kill('SIGKILL');
  process.exit(1);
}

const [startUrl, login, screenshot] = process.argv.slice(2);
if (!startUrl || !login) die('usage: signin.mjs START_URL LOGIN [SCREENSHOT_PATH]');
const startOrigin = new URL(startUrl).origin;
let providerOrigin = process.env.OIDC_ISSUER ? new URL(process.env.OIDC_ISSUER).origin : null;
const timeoutMs = Number(process.env.OIDC_SIGNIN_TIMEOUT_MS || 30000);

const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromium)) {
  if (process.getuid?.() !== 0) die(`no Chromium at ${chromium}, and not root to apt-get install it`);
  process.stderr.write('signin.mjs: installing chromium (apt-get)\n');
  // One install at a time: a second caller waits, then finds it installed.
  execFileSync('flock', ['/tmp/collabd-oidc-chromium.lock', 'sh', '-c',
    `[ -x '${chromium}' ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }`],
  { stdio: ['ignore', 2, 2] });
  if (!existsSync(chromium)) die(`apt-get installed chromium, but not at ${chromium}`);
}

const { default: puppeteer } = await import(modulePath('puppeteer-core'));

browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]',
  ],
});

let where = 'starting';
let lastUrl = '';
const timer = setTimeout(() => {
  die(`timed out after ${timeoutMs} ms (${where}; last page requested: ${lastUrl || 'none'})`);
}, timeoutMs);

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

try {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.setDefaultNavigationTimeout(timeoutMs);

  // The origins the main frame has been sent to, redirects included.
  const origins = new Set();
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      lastUrl = request.url();
      const { origin } = new URL(lastUrl);
      origins.add(origin);
      if (providerOrigin === null && origin !== startOrigin) providerOrigin = origin;
    }
  });

  // The status of the document the main frame shows: the last navigation
  // response that is not a redirect.
  const documents = [];
  page.on('response', (response) => {
    const request = response.request();
    if (!request.isNavigationRequest() || response.frame() !== page.mainFrame()) return;
    const status = response.status();
    if (status >= 300 && status < 400 && response.headers().location) return;
    documents.push({ status, url: response.url() });
  });

  // Which provider form the page shows, if any.
  const formOnPage = () => page.evaluate(() => {
    if (document.querySelector('form input[name="login"]')) return 'login';
    if (document.querySelector('form input[name="prompt"][value="consent"]')) return 'consent';
    return null;
  });

  where = `opening ${startUrl}`;
  await page.goto(startUrl, { waitUntil: 'load' });

  let submitted = 0;
  let idleSince = Date.now();
  for (;;) {
    const url = new URL(page.url());
    // Back from the provider (after a sign-in, or straight away with an
    // error): done.
    if (providerOrigin !== null && origins.has(providerOrigin)
      && url.origin !== providerOrigin && url.protocol !== 'about:') break;
    let form = null;
    try {
      form = await formOnPage();
    } catch {
      // The page navigated while we looked: look again.
      await sleep(50);
      continue;
    }
    if (form === 'login') {
      where = `login form at ${page.url()}`;
      await page.$eval('form input[name="login"]', (el) => { el.value = ''; });
      await page.type('form input[name="login"]', login);
      await page.type('form input[name="password"]', 'any password will do');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click('form button[type="submit"]'),
      ]);
      submitted += 1;
      idleSince = Date.now();
    } else if (form === 'consent') {
      where = `consent form at ${page.url()}`;
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click('form button[type="submit"]'),
      ]);
      submitted += 1;
      idleSince = Date.now();
    } else if (Date.now() - idleSince > 3000) {
      // On the provider with no form to act on (an error page), or never
      // sent there, and no script moved us along.
      const doc = documents.at(-1);
      const text = await page.evaluate(() => document.body?.innerText ?? '');
      const what = providerOrigin !== null && origins.has(providerOrigin)
        ? 'no login or consent form' : 'never sent to a provider';
      die(`stuck at ${page.url()} (status ${doc?.status}), ${what}: ${text.slice(0, 500)}`);
    } else {
      where = `waiting at ${page.url()}`;
      await sleep(100);
    }
    if (submitted > 10) die(`still on the provider after ${submitted} forms (at ${page.url()})`);
  }

  const finalUrl = page.url();
  const doc = [...documents].reverse().find((d) => d.url === finalUrl) ?? documents.at(-1);
  const text = await page.evaluate(() => document.body?.innerText ?? '');
  if (screenshot) {
    mkdirSync(path.dirname(path.resolve(screenshot)), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
  }
  process.stdout.write(`${JSON.stringify({ status: doc?.status ?? null, url: finalUrl, text })}\n`);
  clearTimeout(timer);
  await browser.close();
  process.exit(0);
} catch (err) {
  clearTimeout(timer);
  die(`${where}: ${err.message}`);
}
