// Checks the harness end to end, standalone: provider.mjs as the OpenID
// provider, signin.mjs as the person in a browser, and a tiny relying party
// here (node:http on 127.0.0.1) doing what collabd will do: authorization
// code flow with PKCE S256, state (bound to a cookie) and nonce, the code
// exchanged at the token endpoint (client_secret_basic, or _post), the ID
// token verified (jose, which oidc-provider depends on) and its claims shown
// on the callback page. Also drives one sign-in without a browser (plain
// HTTP, a cookie jar, redirects followed by hand) as a Rust test would.
//
//   NODE selftest.mjs        (NODE: the last line of ensure.sh's output)
//
// Prints a line per check and "N passed, N failed"; exits 1 on any failure.
// Screenshots go to <repo>/target/oidc/selftest/.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modulePath } from './modules.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const jose = await import(modulePath('jose'));
const shots = path.resolve(here, '../../../target/oidc/selftest');
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  }
}

const children = new Set();
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', cleanup);
const watchdog = setTimeout(() => {
  console.log('FAIL selftest: gave up after 180 s');
  process.exit(1);
}, 180000);

// ---------------------------------------------------------------- provider

function startProvider(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'provider.mjs')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => reject(new Error(`provider.mjs printed no issuer line in 20 s: ${stderr}`)), 20000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const nl = stdout.indexOf('\n');
      if (nl !== -1 && !child.info) {
        clearTimeout(timer);
        child.info = JSON.parse(stdout.slice(0, nl));
        resolve({ child, ...child.info, stderr: () => stderr, stdout: () => stdout });
      }
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      child.exited = { code, signal };
      if (!child.info) {
        clearTimeout(timer);
        reject(new Error(`provider.mjs exited (${code ?? signal}): ${stderr}`));
      }
    });
  });
}

function stopProvider(p) {
  return new Promise((resolve) => {
    if (p.child.exited) { resolve(p.child.exited); return; }
    p.child.once('exit', (code, signal) => resolve({ code, signal }));
    p.child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------- relying party

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const providers = new Map(); // name -> {issuer, meta, jwks, clientId, secret, auth}
const pending = new Map(); // state -> {nonce, verifier, name}
let rpBase;

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function cookiesOf(req) {
  const out = {};
  for (const part of (req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

async function callback(req, res, name, url) {
  const p = providers.get(name);
  const q = url.searchParams;
  const state = q.get('state');
  const saved = pending.get(state);
  const stateOk = saved !== undefined && saved.name === name && cookiesOf(req).rp_state === state;
  const issOk = q.get('iss') === p.issuer;
  if (q.get('error')) {
    reply(res, 400, {
      error: q.get('error'), error_description: q.get('error_description'), state_ok: stateOk, iss_ok: issOk,
    });
    return;
  }
  if (!stateOk) {
    reply(res, 400, { error: 'state mismatch', state });
    return;
  }
  pending.delete(state);
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: q.get('code'),
    redirect_uri: `${rpBase}/callback/${name}`,
    code_verifier: saved.verifier,
  });
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (p.auth === 'client_secret_basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(p.clientId)}:${encodeURIComponent(p.secret)}`).toString('base64')}`;
  } else {
    form.set('client_id', p.clientId);
    form.set('client_secret', p.secret);
  }
  const tokenRes = await fetch(p.meta.token_endpoint, { method: 'POST', headers, body: form });
  const tokens = await tokenRes.json();
  if (tokenRes.status !== 200) {
    reply(res, 502, { error: 'token endpoint', status: tokenRes.status, tokens });
    return;
  }
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, p.jwks, {
    issuer: p.issuer, audience: p.clientId, algorithms: ['RS256'],
  });
  const userinfoRes = await fetch(p.meta.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  reply(res, 200, {
    ok: true,
    state_ok: stateOk,
    iss_ok: issOk,
    nonce_ok: payload.nonce === saved.nonce,
    alg: protectedHeader.alg,
    token_type: tokens.token_type,
    scope: tokens.scope,
    claims: payload,
    userinfo: await userinfoRes.json(),
  });
}

function start(res, name, url) {
  const p = providers.get(name);
  const state = b64url(crypto.randomBytes(16));
  const nonce = b64url(crypto.randomBytes(16));
  const verifier = b64url(crypto.randomBytes(32));
  pending.set(state, { nonce, verifier, name });
  const auth = new URL(p.meta.authorization_endpoint);
  auth.search = new URLSearchParams({
    client_id: p.clientId,
    redirect_uri: `${rpBase}/callback/${name}`,
    response_type: 'code',
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: crypto.hash('sha256', verifier, 'base64url'),
    code_challenge_method: 'S256',
  });
  // For the PKCE checks: leave the challenge out, or ask for "plain".
  if (url.searchParams.get('pkce') === 'none') {
    auth.searchParams.delete('code_challenge');
    auth.searchParams.delete('code_challenge_method');
  } else if (url.searchParams.get('pkce') === 'plain') {
    auth.searchParams.set('code_challenge', verifier);
    auth.searchParams.set('code_challenge_method', 'plain');
  }
  reply(res, 302, '', {
    location: auth.href,
    'set-cookie': `rp_state=${state}; Path=/; HttpOnly; SameSite=Lax`,
  });
}

const rp = http.createServer((req, res) => {
  const url = new URL(req.url, rpBase);
  const m = /^\/(start|callback)\/([a-z-]+)$/.exec(url.pathname);
  if (!m || !providers.has(m[2])) {
    reply(res, 404, 'not found');
    return;
  }
  const done = m[1] === 'start' ? Promise.resolve(start(res, m[2], url)) : callback(req, res, m[2], url);
  done.catch((err) => reply(res, 500, { error: String(err?.stack || err) }));
});
await new Promise((resolve) => { rp.listen(0, '127.0.0.1', resolve); });
rpBase = `http://127.0.0.1:${rp.address().port}`;

async function addProvider(name, p) {
  const meta = await (await fetch(`${p.issuer}/.well-known/openid-configuration`)).json();
  providers.set(name, {
    ...p, meta, jwks: jose.createRemoteJWKSet(new URL(meta.jwks_uri)),
  });
}

// ------------------------------------------------------------ the browser

function signin(startUrl, login, shot, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(here, 'signin.mjs'), startUrl, login, shot], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('exit', (code) => {
      children.delete(child);
      const lines = stdout.trim().split('\n');
      let result = null;
      try { result = JSON.parse(lines.at(-1)); } catch { /* reported below */ }
      let page = null;
      try { page = JSON.parse(result?.text); } catch { /* not the relying party's JSON */ }
      resolve({
        code, result, page, stderr,
      });
    });
  });
}

// ----------------------------------------------------- without a browser

// What a Rust test with a cookie jar would do: follow each redirect by hand,
// keep cookies per host (not per port, as browsers and cookie jars do), GET
// the login page, POST the login form, GET the consent page, POST it.
async function plainHttpSignin(startUrl, login) {
  const jar = new Map(); // name -> {value, path}
  const log = [];
  const cookieHeader = (url) => [...jar.entries()]
    .filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
    .map(([k, c]) => `${k}=${c.value}`).join('; ');
  async function go(method, href, body) {
    const url = new URL(href);
    const headers = {};
    const cookie = cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method, headers, body: body && new URLSearchParams(body), redirect: 'manual',
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const pathAttr = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, { value, path: pathAttr ? pathAttr.slice(5) : '/' });
    }
    const text = await res.text();
    log.push(`${method} ${url.pathname} -> ${res.status}${res.headers.get('location') ? ` ${new URL(res.headers.get('location'), url).pathname}` : ''}`);
    return { res, text, url };
  }
  async function follow(method, href, body) {
    let r = await go(method, href, body);
    for (let i = 0; i < 10 && r.res.status >= 300 && r.res.status < 400; i += 1) {
      r = await go('GET', new URL(r.res.headers.get('location'), r.url).href);
    }
    return r;
  }
  let r = await follow('GET', startUrl); // lands on GET /interaction/<uid>: the login form
  const loginAt = r.url.href;
  const loginForm = /<form[^>]*action="([^"]+)"[^>]*method="post"[\s\S]*?name="prompt" value="login"/.exec(r.text);
  if (!loginForm) throw new Error(`no login form at ${r.url}: ${r.text.slice(0, 300)}`);
  r = await follow('POST', new URL(loginForm[1], r.url).href, { prompt: 'login', login, password: 'x' });
  const consentAt = r.url.href;
  const consentForm = /<form[^>]*action="([^"]+)"[^>]*method="post"[\s\S]*?name="prompt" value="consent"/.exec(r.text);
  if (!consentForm) throw new Error(`no consent form at ${r.url}: ${r.text.slice(0, 300)}`);
  r = await follow('POST', new URL(consentForm[1], r.url).href, { prompt: 'consent' });
  return {
    status: r.res.status, url: r.url.href, text: r.text, loginAt, consentAt, log, cookies: [...jar.keys()],
  };
}

// ------------------------------------------------------------------ checks

const secret = b64url(crypto.randomBytes(24));
const clients = [
  { client_id: 'collabd-basic', client_secret: secret, redirect_uris: [`${rpBase}/callback/basic`] },
  // Registered for client_secret_basic too: the provider takes _post as well.
  { client_id: 'collabd-post', client_secret: secret, redirect_uris: [`${rpBase}/callback/post`, `${rpBase}/callback/plain`] },
];
const t0 = Date.now();
const main = await startProvider({ OIDC_PORT: '0', OIDC_CLIENTS: JSON.stringify(clients) });
check('provider prints its issuer line', /^\{"issuer":"http:\/\/127\.0\.0\.1:\d+","port":\d+\}\n$/.test(main.stdout())
  && main.issuer === `http://127.0.0.1:${main.port}`, main.stdout());
console.log(`     provider up in ${Date.now() - t0} ms at ${main.issuer}`);
await addProvider('basic', { issuer: main.issuer, clientId: 'collabd-basic', secret, auth: 'client_secret_basic' });
await addProvider('post', { issuer: main.issuer, clientId: 'collabd-post', secret, auth: 'client_secret_post' });
await addProvider('plain', { issuer: main.issuer, clientId: 'collabd-post', secret, auth: 'client_secret_basic' });
const meta = providers.get('basic').meta;
check('discovery: S256 only, code only, RS256', JSON.stringify(meta.code_challenge_methods_supported) === '["S256"]'
  && JSON.stringify(meta.response_types_supported) === '["code"]'
  && meta.id_token_signing_alg_values_supported.includes('RS256'), meta);

// A person signs in with an email address.
{
  const login = 'Alice.Smith@Example.COM';
  const t = Date.now();
  const { code, result, page, stderr } = await signin(`${rpBase}/start/basic`, login, path.join(shots, 'alice.png'));
  console.log(`     browser sign-in took ${Date.now() - t} ms`);
  check('signin.mjs exits 0', code === 0, stderr);
  check('callback page status 200', result?.status === 200, result);
  check('callback URL is the relying party\'s', result?.url?.startsWith(`${rpBase}/callback/basic?code=`), result?.url);
  check('state (cookie-bound), iss and nonce match', page?.state_ok && page?.iss_ok && page?.nonce_ok, page);
  check('ID token signed RS256', page?.alg === 'RS256', page?.alg);
  const c = page?.claims ?? {};
  check('ID token claims: sub, email (lowercased), email_verified, name', c.sub === login
    && c.email === login.toLowerCase() && c.email_verified === true && c.name === `Name of ${login}`
    && c.iss === main.issuer && c.aud === 'collabd-basic', c);
  check('userinfo has the same claims', page?.userinfo?.sub === login && page?.userinfo?.email === c.email
    && page?.userinfo?.name === c.name, page?.userinfo);
  console.log(`     ID token claims: ${JSON.stringify(c)}`);
}

// An unverified address; the client authenticates with client_secret_post.
{
  const login = 'unverified-bob@example.com';
  const { code, result, page, stderr } = await signin(`${rpBase}/start/post`, login, path.join(shots, 'unverified.png'));
  check('unverified: signin.mjs exits 0 with status 200', code === 0 && result?.status === 200, { result, stderr });
  check('unverified: email_verified false (client_secret_post)', page?.claims?.email_verified === false
    && page?.claims?.email === login && page?.claims?.sub === login, page);
}

// PKCE is required, and only S256.
for (const [mode, what] of [['none', 'no code_challenge'], ['plain', 'code_challenge_method=plain']]) {
  const r1 = await fetch(`${rpBase}/start/plain?pkce=${mode}`, { redirect: 'manual' });
  const r2 = await fetch(r1.headers.get('location'), { redirect: 'manual' });
  const back = new URL(r2.headers.get('location') ?? 'http://invalid/', r1.headers.get('location'));
  check(`PKCE: ${what} is sent back with error=invalid_request`, r2.status === 303
    && back.origin + back.pathname === `${rpBase}/callback/plain` && back.searchParams.get('error') === 'invalid_request',
  { status: r2.status, location: r2.headers.get('location') });
}

// Without a browser: plain HTTP and a cookie jar.
{
  const login = 'carol';
  const r = await plainHttpSignin(`${rpBase}/start/basic`, login);
  let page = null;
  try { page = JSON.parse(r.text); } catch { /* below */ }
  check('plain HTTP sign-in ends on the callback with 200', r.status === 200 && r.url.startsWith(`${rpBase}/callback/basic?`), r);
  check('plain HTTP: login and consent at /interaction/<uid>', /\/interaction\/[A-Za-z0-9_-]+$/.test(new URL(r.loginAt).pathname)
    && /\/interaction\/[A-Za-z0-9_-]+$/.test(new URL(r.consentAt).pathname) && r.loginAt !== r.consentAt, r);
  check('plain HTTP: a login without @ has no email claim', page?.nonce_ok && page?.claims?.sub === login
    && !('email' in page.claims) && page.claims.name === 'Name of carol', page);
  console.log(`     requests: ${r.log.join(' | ')}`);
  console.log(`     cookies set: ${r.cookies.join(' ')}`);
}

// A provider that denies.
const denying = await startProvider({
  OIDC_PORT: '0',
  OIDC_DENY: '1',
  OIDC_CLIENTS: JSON.stringify([{ client_id: 'collabd-deny', client_secret: secret, redirect_uris: [`${rpBase}/callback/deny`] }]),
});
await addProvider('deny', { issuer: denying.issuer, clientId: 'collabd-deny', secret, auth: 'client_secret_basic' });
{
  const { code, result, page, stderr } = await signin(`${rpBase}/start/deny`, 'dave@example.com', path.join(shots, 'denied.png'));
  check('OIDC_DENY: signin.mjs exits 0 with the callback\'s 400', code === 0 && result?.status === 400, { result, stderr });
  const url = new URL(result?.url ?? 'http://invalid/');
  check('OIDC_DENY: callback gets error=access_denied with state and iss', url.searchParams.get('error') === 'access_denied'
    && page?.state_ok === true && page?.iss_ok === true, result);
}

// signin.mjs gives up with a clear error when the provider shows an error page.
{
  const r = await fetch(`${main.issuer}/auth?client_id=nobody&response_type=code&scope=openid`, { redirect: 'manual' });
  check('provider error page for an unknown client', r.status === 400, r.status);
  const { code, stderr } = await signin(`${main.issuer}/auth?client_id=nobody&response_type=code&scope=openid`, 'x', path.join(shots, 'error.png'), { OIDC_ISSUER: main.issuer });
  check('signin.mjs exits 1 on a provider error page', code === 1 && /stuck at .*no login or consent form/.test(stderr), stderr);
}

for (const p of [main, denying]) {
  const exit = await stopProvider(p);
  check(`provider ${p.issuer} exits 0 on SIGTERM`, exit.code === 0, exit);
}
rp.close();
clearTimeout(watchdog);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
