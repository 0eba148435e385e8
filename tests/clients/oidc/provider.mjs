// A real OpenID Connect provider for collabd's tests: panva's oidc-provider
// (pinned in package.json here; installed by ensure.sh), configured from the
// environment:
//
//   OIDC_PORT     port on 127.0.0.1 (0 or unset: a free one)
//   OIDC_CLIENTS  JSON array of {client_id, client_secret, redirect_uris: [...]}
//                 (optionally token_endpoint_auth_method; client_secret_basic
//                 and client_secret_post are both accepted either way)
//   OIDC_DENY=1   every sign-in ends in error=access_denied at the client
//
// Once listening it prints one line to stdout,
//   {"issuer":"http://127.0.0.1:PORT","port":PORT}
// and runs until SIGTERM/SIGINT. Everything else (oidc-provider's notices,
// errors) goes to stderr.
//
// Sign-in uses oidc-provider's development interactions: GET
// /interaction/<uid> shows a login form (fields prompt=login, login,
// password; any password is accepted), then a consent form (prompt=consent);
// both POST to /interaction/<uid>. The account id (sub) is the login typed.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { modulePath } from './modules.mjs';

// oidc-provider writes notices with console.info (stdout): stdout is for the
// issuer line alone.
console.log = console.error;
console.info = console.error;

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

const { default: Provider } = await import(modulePath('oidc-provider'));

let clients;
try {
  clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
} catch (err) {
  fail(`OIDC_CLIENTS is not JSON: ${err.message}`);
}
if (!Array.isArray(clients)) fail('OIDC_CLIENTS must be a JSON array');
clients = clients.map((c) => {
  if (!c || typeof c.client_id !== 'string' || typeof c.client_secret !== 'string'
    || !Array.isArray(c.redirect_uris) || c.redirect_uris.length === 0) {
    fail(`each client needs client_id, client_secret and redirect_uris: ${JSON.stringify(c)}`);
  }
  return {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  };
});

const port = Number(process.env.OIDC_PORT || 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad OIDC_PORT ${process.env.OIDC_PORT}`);
const deny = process.env.OIDC_DENY === '1';

// Listen first: with port 0 the issuer is only known once bound. Requests
// cannot arrive before the issuer line is printed, so the handler is set below.
let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));
try {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
} catch (err) {
  fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
}
const boundPort = server.address().port;
const issuer = `http://127.0.0.1:${boundPort}`;

// One RS256 signing key, new at every start.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: crypto.randomUUID(),
};

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The claims of the granted scopes go into the ID token too, not only to
  // the userinfo endpoint.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
  },
  // No browser-side JavaScript client in these tests.
  clientBasedCORS: () => false,
  // Seconds, spelled out (which also quiets oidc-provider's notices about
  // the defaults): as the defaults, but a code lives 5 minutes (not 1), for
  // slow test machines, and a session or grant 1 day (not 14).
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 300,
    IdToken: 3600,
    Interaction: 3600,
    Session: 86400,
    Grant: 86400,
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const claims = {
          sub: id,
          email_verified: !id.startsWith('unverified'),
          name: `Name of ${id}`,
        };
        if (id.includes('@')) claims.email = id.toLowerCase();
        return claims;
      },
    };
  },
});

if (deny) {
  // The first form submitted (the login) ends the interaction with
  // access_denied: the provider then sends the browser to the client's
  // redirect_uri with ?error=access_denied&error_description=…&state=…&iss=….
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path)) {
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
        error: 'access_denied',
        error_description: 'End-User denied the sign-in (OIDC_DENY=1)',
      }, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(returnTo);
      return;
    }
    await next();
  });
}

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'jwks.error', 'discovery.error']) {
  provider.on(event, (ctx, err) => {
    const why = [err?.error_description, err?.cause?.message].filter(Boolean).join(': ');
    process.stderr.write(`provider.mjs: ${event} ${ctx?.method || ''} ${ctx?.path || ''}: ${err?.message}${why ? ` (${why})` : ''}\n`);
  });
}

handler = provider.callback();
process.stdout.write(`${JSON.stringify({ issuer, port: boundPort })}\n`);

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
