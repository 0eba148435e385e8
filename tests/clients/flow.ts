// Calls a running collabd through openapi-fetch, typed by the `paths` that
// openapi-typescript generated from openapi/openapi.json (schema.d.ts, made
// by scripts/client-typescript). It must compile under `tsc --strict`: a spec
// that generates bad or loose types fails here before anything runs.
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const baseUrl = process.env.COLLABD_URL;
assert.ok(baseUrl, "COLLABD_URL is not set");
const api = createClient<paths>({ baseUrl });

// Public read: GET with no parameters.
const info = await api.GET("/api/serviceinfo");
assert.equal(info.response.status, 200, JSON.stringify(info.error));
assert.equal(info.data?.response.serviceinfo.name, "collabd");

// Sign up and log in: JSON bodies checked against the spec's param schemas.
const email = `ts-${Date.now()}@example.com`;
const password = "correct horse 1";
const signup = await api.POST("/user/signup", { body: { email, password, name: "TS client" } });
assert.equal(signup.response.status, 200, JSON.stringify(signup.error));
assert.equal(signup.data?.response.user.email, email);

const login = await api.POST("/user/login", { body: { email, password } });
assert.equal(login.response.status, 200, JSON.stringify(login.error));
const token = login.data?.response.login.token;
assert.ok(token, "login answered no token");

// An authenticated call with the new session: who am I, and a new organization.
const auth = { headers: { Authorization: `Bearer ${token}` } };
const me = await api.GET("/user/details", auth);
assert.equal(me.data?.response.user.email, email, JSON.stringify(me.error));
const org = await api.POST("/user/createorganization", { ...auth, body: { name: "TS org" } });
assert.equal(org.response.status, 200, JSON.stringify(org.error));
assert.equal(org.data?.response.organization.name, "TS org");

// The organization's own role, a team carrying it, and the checks asked
// with an API key bound to the organization (API.md §10).
const orgId = org.data?.response.organization.organizationid;
assert.ok(orgId, "no organization id");
const role = await api.POST("/customer/createrole", {
  ...auth,
  body: { organizationid: orgId, name: "auditor", permissions: ["organization:read", "audit:read"] },
});
assert.equal(role.response.status, 200, JSON.stringify(role.error));
const roleId = role.data?.response.role.roleid;
assert.ok(roleId && role.data?.response.role.system === false);
const team = await api.POST("/customer/createteam", {
  ...auth,
  body: { organizationid: orgId, name: "Audit", role: roleId },
});
assert.equal(team.response.status, 200, JSON.stringify(team.error));
assert.equal(team.data?.response.team.role, "auditor");
assert.equal(team.data?.response.team.roleid, roleId);
const key = await api.POST("/user/createapikey", {
  ...auth,
  body: { name: "checks", organizationid: orgId },
});
assert.equal(key.response.status, 200, JSON.stringify(key.error));
const secret = key.data?.response.apikey.secret;
assert.ok(secret, "no API key secret");
const bound = { headers: { Authorization: `Bearer ${secret}` } };
const userId = me.data?.response.user.userid;
assert.ok(userId);
const check = await api.POST("/access/check", {
  ...bound,
  body: { organizationid: orgId, userid: userId, permission: "roles:manage" },
});
assert.equal(check.response.status, 200, JSON.stringify(check.error));
assert.deepEqual(check.data?.response.check, { allowed: true, reason: "role" });
const batch = await api.POST("/access/checkbatch", {
  ...bound,
  body: {
    checks: [
      { organizationid: orgId, email: "nobody@example.com", permission: "organization:read" },
      { organizationid: orgId, userid: userId, permission: "project:read", projectid: "no-such-project" },
    ],
  },
});
assert.equal(batch.response.status, 200, JSON.stringify(batch.error));
assert.deepEqual(
  batch.data?.response.checks.map((c) => [c.allowed, c.reason]),
  [[false, "not_member"], [false, "not_granted"]],
);

// A failure is typed too: a wrong password answers the error envelope.
const bad = await api.POST("/user/login", { body: { email, password: "wrong password" } });
assert.equal(bad.response.status, 401);
assert.equal(bad.error?.response.status.code, 401);

console.log(`typescript client flow: ${info.data?.response.serviceinfo.version}, org ${orgId}, role, team and checks OK`);
