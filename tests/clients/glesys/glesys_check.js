// The real GleSYS Node client (npm `glesys-api`) against collabd: its own
// request class, with only the base URL changed by a subclass (its Basic
// header code is kept), authenticating as apiUser = an organization id and
// apiKey = an API key. customer.listCollaborators() and
// customer.listProjects() must answer that organization's data.
//
// Usage: node glesys_check.js BASE_URL ORGANIZATION_ID API_KEY EXPECTED_EMAILS PROJECT_NAME
// (run by scripts/client-glesys, which sets the organization up).
import { GleSYSAPI } from "glesys-api";

const [base, organization, key, expectedEmails, projectName] = process.argv.slice(2);

// The package exports only GleSYSAPI; its Request class is the constructor
// of the request object it makes. That class resolves every path against
// https://api.glesys.com; an absolute URL passes through its
// `new URL(url, base)` unchanged, so the subclass only makes paths absolute.
const Request = new GleSYSAPI({}).request.constructor;
class Local extends Request {
  request(url, options) {
    return super.request(new URL(url, base).href, options);
  }
}

const problems = [];
const api = new GleSYSAPI({ apiUser: organization, apiKey: key });
api.request = new Local({ apiUser: organization, apiKey: key });

try {
  const listed = (await api.customer.listCollaborators()).body.response;
  const emails = listed.collaborators.map(c => c.email).sort().join(",");
  if (listed.status.code !== 200 || emails !== expectedEmails.split(",").sort().join(",")) {
    problems.push(`listCollaborators: ${listed.status.code} ${emails}, expected ${expectedEmails}`);
  }
  if (listed.collaborators.some(c => c.organizationid !== organization)) {
    problems.push("listCollaborators answered another organization's members");
  }
  const projects = (await api.customer.listProjects()).body.response;
  const names = projects.projects.map(p => p.name);
  if (projects.status.code !== 200 || names.length !== 1 || names[0] !== projectName) {
    problems.push(`listProjects: ${projects.status.code} ${JSON.stringify(names)}, expected [${projectName}]`);
  }
  // A session token is not a Basic password.
  const bad = new GleSYSAPI({ apiUser: organization, apiKey: "not-a-key" });
  bad.request = new Local({ apiUser: organization, apiKey: "not-a-key" });
  try {
    await bad.customer.listCollaborators();
    problems.push("a wrong key was accepted");
  } catch (e) {
    if (e.response?.statusCode !== 401) problems.push(`a wrong key answered ${e.response?.statusCode ?? e.message}`);
  }
} catch (e) {
  problems.push(`error: ${e.message} ${e.response ? JSON.stringify(e.response.body) : ""}`);
}

if (problems.length) {
  console.error("client-glesys: FAILED");
  for (const p of problems) console.error(`  - ${p}`);
  process.exitCode = 1;
} else {
  console.log(`client-glesys: glesys-api's customer.listCollaborators() and customer.listProjects() ` +
    `answer organization ${organization}'s data over HTTP Basic`);
}
