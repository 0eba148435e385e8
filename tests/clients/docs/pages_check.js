// Drives the pages behind the account emails in headless Chromium, as a
// person would: the link from the mail is opened, the page must say what it
// is for (with the address it concerns), act only when its button is
// pressed, and then say what happened and what to do next. Each result is
// checked against the API too.
//
//   invite   /invite/{token}    accept (an account made on the spot, its
//                               session shown and working), and decline
//   confirm  /confirm/{token}   sign-up confirmation, and an address change
//   reset    /reset/{token}     password reset: new password works, old one not
//   signin   /signin/{token}    sign-in link: the session shown works
//   signin   /signin/{token}    with two-factor on: the code field, a refusal
//                               without a code, a recovery code accepted
//   domain   /domain/{token}    domain verification: names the domain, the
//                               organization and the role; verifies on press
//
// The browser asks for LANGUAGE (Accept-Language; the accounts and
// organizations here have none of their own, so the pages follow it): every
// page must be in it (its lang and its words), and a screenshot of each,
// before and after its button, is kept under SHOTS/LANGUAGE/.
//
// Usage: node pages_check.js BASE_URL MAIL_DIR LANGUAGE SHOTS
//   (run by scripts/docs-browser, once for en and once for sv)
// The server writes mail as .eml files to MAIL_DIR (no SMTP URL set).
// CHROMIUM: the browser to drive (default /usr/bin/chromium).
import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [base, mailDir, language = "en", shotsRoot = "pages"] = process.argv.slice(2);
if (!base || !mailDir) {
  console.error("usage: node pages_check.js BASE_URL MAIL_DIR [LANGUAGE SHOTS]");
  process.exit(2);
}
const shots = join(shotsRoot, language);
mkdirSync(shots, { recursive: true });

// What each page says and its buttons are labelled, in each language.
const WORDS = {
  en: {
    confirmFirst: "is your address", confirmButton: "Confirm my address", newAddress: "new address",
    accept: "Accept", decline: "Decline", joined: /You joined Pages & Co as technical/, declined: /declined/i,
    next: /Next:/, newPassword: "new password", setPassword: "Set the new password", signInAgain: /sign in/i,
    signIn: "Sign in", signedIn: /signed in as/i, verify: d => `Verify ${d}`, verified: d => `${d} is verified`,
    codeNeeded: /two-factor on: enter the code/,
  },
  sv: {
    confirmFirst: "är din adress", confirmButton: "Bekräfta min adress", newAddress: "nya adressen",
    accept: "Tacka ja", decline: "Tacka nej", joined: /Du har gått med i Pages & Co som technical/, declined: /tackat nej/i,
    next: /Nästa steg:/, newPassword: "nytt lösenord", setPassword: "Spara det nya lösenordet", signInAgain: /logga in/i,
    signIn: "Logga in", signedIn: /inloggad som/i, verify: d => `Verifiera ${d}`, verified: d => `${d} är verifierad`,
    codeNeeded: /tvåstegsverifiering: ange koden/,
  },
};
const say = WORDS[language];
if (!say) {
  console.error(`pages_check: no words for ${language}`);
  process.exit(2);
}
let shot = 0;
const keep = async (page, what) => {
  shot += 1;
  await page.screenshot({ path: join(shots, `${String(shot).padStart(2, "0")}-${what}.png`), fullPage: true });
};

const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };

async function api(path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body || {}) });
  return (await r.json()).response;
}

// Quoted-printable undone, so links can be read.
const decoded = raw => raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));

// Waits for a mail to `to` with a `/{kind}/{token}` link that was not in `seen`.
async function nextToken(to, kind, seen) {
  for (let i = 0; i < 100; i++) {
    for (const name of readdirSync(mailDir)) {
      if (!name.endsWith(".eml") || seen.has(name)) continue;
      const text = decoded(readFileSync(join(mailDir, name), "utf8"));
      const match = text.match(new RegExp(`/${kind}/([A-Za-z0-9_-]+)`));
      if (text.includes(to) && match) {
        seen.add(name);
        return match[1];
      }
    }
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`no ${kind} mail to ${to} within 10 s`);
}

// RFC 6238 with SHA-1, 6 digits, 30 s: the code of `secret` (base32) now.
function totp(secret, offsetSteps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map(b => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offsetSteps));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, "0");
}

// Opens `path`, checks what the page says before anything is pressed: its
// language, the phrases, and the product's name.
async function open(page, path, mustSay) {
  const kind = path.split("/")[1];
  const response = await page.goto(`${base}${path}`, { waitUntil: "load" });
  const text = await page.evaluate(() => document.body.innerText);
  const lang = await page.evaluate(() => document.documentElement.lang);
  check(response.status() === 200, `${kind} page answered ${response.status()}`);
  check(lang === language, `${kind} page is in ${lang}, not ${language}`);
  for (const phrase of [...mustSay, "collabd"]) check(text.includes(phrase), `${kind} page does not say "${phrase}": ${text.slice(0, 300)}`);
  await keep(page, kind);
  return text;
}

// Presses the button whose text is `label`, waits for the result line.
async function press(page, label) {
  const buttons = await page.$$("button");
  let pressed = false;
  for (const b of buttons) {
    if ((await b.evaluate(e => e.textContent)).trim() === label) { await b.click(); pressed = true; break; }
  }
  if (!pressed) throw new Error(`no button "${label}" on ${page.url()}`);
  await page.waitForFunction(() => document.getElementById("result").textContent.trim() !== "", { timeout: 10000 });
  await keep(page, `${new URL(page.url()).pathname.split("/")[1]}-pressed`);
  return page.evaluate(() => document.getElementById("result").textContent);
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await page.setExtraHTTPHeaders({ "Accept-Language": language });
  page.on("pageerror", err => problems.push(`uncaught exception: ${err.message}`));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener("securitypolicyviolation", e =>
      console.error(`CSP violation: ${e.violatedDirective}`));
  });
  page.on("console", msg => {
    if (msg.text().startsWith("CSP violation")) problems.push(msg.text());
  });
  const seen = new Set(readdirSync(mailDir));
  const email = `pages-${Date.now()}@example.com`;
  const first = "first password 1";

  // Confirmation.
  const signup = await api("/user/signup", { email, password: first, name: "Page Tester" });
  check(signup.status.code === 200, `signup: ${signup.status.text}`);
  const confirm = await nextToken(email, "confirm", seen);
  await open(page, `/confirm/${confirm}`, [email, say.confirmFirst]);
  let session = (await api("/user/login", { email, password: first })).login.token;
  check((await api("/user/details", {}, session)).user.emailverified === false, "confirm page acted before its button");
  await press(page, say.confirmButton);
  check((await api("/user/details", {}, session)).user.emailverified === true, "confirm page did not confirm");

  // Invitations: one accepted by a newcomer, one declined.
  const org = (await api("/user/createorganization", { name: "Pages & Co" }, session)).organization;
  const newcomer = `newcomer-${Date.now()}@example.com`;
  const declined = `decliner-${Date.now()}@example.com`;
  for (const to of [newcomer, declined]) {
    const made = await api("/invite/create", { organizationid: org.organizationid, email: to, role: "technical" }, session);
    check(made.status.code === 200, `invite/create: ${made.status.text}`);
  }
  const invite = await nextToken(newcomer, "invite", seen);
  await open(page, `/invite/${invite}`, [newcomer, "Pages & Co", "technical", email]);
  check((await api("/invite/details", { token: invite })).invite.state === "pending", "the invite page acted before its button");
  await page.type("#name", "New Comer");
  const joined = await press(page, say.accept);
  check(say.joined.test(joined) && say.next.test(joined), `invite page after accepting: ${joined}`);
  const newSession = await page.evaluate(() => document.getElementById("session").textContent.trim());
  const newMe = await api("/user/details", {}, newSession);
  check(newMe.status.code === 200 && newMe.user.email === newcomer && newMe.user.name === "New Comer",
    "the session the invite page shows does not work");
  const declineToken = await nextToken(declined, "invite", seen);
  await open(page, `/invite/${declineToken}`, [declined, "Pages & Co"]);
  const declinedSays = await press(page, say.decline);
  check(say.declined.test(declinedSays), `invite page after declining: ${declinedSays}`);
  check((await api("/invite/details", { token: declineToken })).status.code === 410, "the declined invite is not ended");

  // An address change: the page names both addresses.
  const changed = `changed-${Date.now()}@example.com`;
  const edit = await api("/user/edit", { email: changed, currentpassword: first }, session);
  check(edit.user?.pendingemail === changed, `user/edit email: ${edit.status.text}`);
  const change = await nextToken(changed, "confirm", seen);
  await open(page, `/confirm/${change}`, [changed, email, say.newAddress]);
  const changedSays = await press(page, say.confirmButton);
  check(changedSays.includes(changed) && say.next.test(changedSays), `confirm page after a change: ${changedSays}`);
  check((await api("/user/details", {}, session)).user.email === changed, "the address did not change");
  const signedInAs = changed;

  // Password reset.
  await api("/user/requestpasswordreset", { email: signedInAs });
  const reset = await nextToken(signedInAs, "reset", seen);
  await open(page, `/reset/${reset}`, [signedInAs, say.newPassword]);
  await page.type("#password", "second password 2");
  const resetSays = await press(page, say.setPassword);
  check(say.signInAgain.test(resetSays), `reset page does not say what to do next: ${resetSays}`);
  check((await api("/user/login", { email: signedInAs, password: first })).status.code === 401, "the old password still works after a reset");
  check((await api("/user/details", {}, session)).status.code === 401, "a session survived the reset");
  session = (await api("/user/login", { email: signedInAs, password: "second password 2" })).login?.token;
  check(!!session, "the new password does not work");
  const again = await page.goto(`${base}/reset/${reset}`, { waitUntil: "load" });
  check(again.status() === 410, `a used reset link's page answered ${again.status()}, not 410`);
  check(await page.evaluate(() => document.documentElement.lang) === language, "the used link's page is not in the browser's language");
  await keep(page, "reset-used");

  // Sign-in link.
  await api("/user/requestloginlink", { email: signedInAs });
  const signin = await nextToken(signedInAs, "signin", seen);
  await open(page, `/signin/${signin}`, [signedInAs, say.signIn]);
  const signinSays = await press(page, say.signIn);
  check(say.signedIn.test(signinSays) && say.next.test(signinSays), `sign-in page result: ${signinSays}`);
  const shown = await page.evaluate(() => document.getElementById("session").textContent.trim());
  const me = await api("/user/details", {}, shown);
  check(me.status.code === 200 && me.user.email === signedInAs, "the session the sign-in page shows does not work");

  // Sign-in link with two-factor on.
  const setup = (await api("/user/enabletwofactor", { currentpassword: "second password 2" }, session)).twofactor;
  const enabled = (await api("/user/confirmtwofactor", { otp: totp(setup.secret) }, session)).twofactor;
  check(enabled?.recoverycodes?.length === 10, "two-factor did not turn on");
  await api("/user/requestloginlink", { email: signedInAs });
  const second = await nextToken(signedInAs, "signin", seen);
  await open(page, `/signin/${second}`, [signedInAs]);
  check(!!(await page.$("#otp")), "the sign-in page of a two-factor account has no code field");
  // The refusal (otp_required) in the page's own words.
  const refused = await press(page, say.signIn);
  check(say.codeNeeded.test(refused), `without a code the page says: ${refused}`);
  await page.evaluate(() => { document.getElementById("result").textContent = ""; });
  await page.type("#otp", enabled.recoverycodes[0]);
  const accepted = await press(page, say.signIn);
  check(say.signedIn.test(accepted), `with a recovery code the page says: ${accepted}`);

  // Domain verification: the page names the domain, the organization and
  // the role, and verifies only when pressed.
  const owner = `domain-owner-${Date.now()}@example.com`;
  await api("/user/signup", { email: owner, password: first, name: "Domain Owner" });
  const ownerSession = (await api("/user/login", { email: owner, password: first })).login.token;
  const domainOrg = (await api("/user/createorganization", { name: "Domain & Co" }, ownerSession)).organization;
  const domain = `d${Date.now()}.example.net`;
  const claimed = await api("/customer/adddomain", { organizationid: domainOrg.organizationid, domain, verificationemail: `it@${domain}`, role: "technical" }, ownerSession);
  check(claimed.status.code === 200, `customer/adddomain: ${claimed.status.text}`);
  const domainToken = await nextToken(`it@${domain}`, "domain", seen);
  await open(page, `/domain/${domainToken}`, [domain, "Domain & Co", "technical"]);
  const stateOf = async () => (await api("/customer/listdomains", { organizationid: domainOrg.organizationid }, ownerSession)).domains[0].state;
  check(await stateOf() === "pending", "the domain page acted before its button");
  const verified = await press(page, say.verify(domain));
  check(verified.includes(say.verified(domain)), `domain page after verifying: ${verified}`);
  check(await stateOf() === "verified", "the domain page did not verify the domain");
} catch (e) {
  problems.push(`error: ${e.message}`);
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(`pages-browser (${language}): FAILED, ${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exitCode = 1;
} else {
  console.log(`pages-browser (${language}): invite (accept, decline), confirm (sign-up, address change), reset, sign-in (with and without two-factor) and domain verification pages work in Chromium; ${shot} screenshots in ${shots}`);
}
