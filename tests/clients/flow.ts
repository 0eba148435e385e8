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

// A failure is typed too: a wrong password answers the error envelope.
const bad = await api.POST("/user/login", { body: { email, password: "wrong password" } });
assert.equal(bad.response.status, 401);
assert.equal(bad.error?.response.status.code, 401);

console.log(`typescript client flow: ${info.data?.response.serviceinfo.version}, org ${org.data?.response.organization.organizationid} OK`);
