"""The one place where scripts/schemathesis excuses a schema-valid request
that collabd refuses for its data (422).

Schemathesis' positive_data_acceptance check fails a request that matches the
document and is refused. scripts/schemathesis.toml accepts the statuses that
are never about the data (the session, the role, an unknown id, a conflict
with the current state, an ended invite, a rate limit) and nothing else:
422 stays a failure everywhere. The only 422s excused are those below, each
a rule of API.md that depends on the state of the world when the request
arrives, or that relates values in a way JSON Schema cannot state. Each is
excused for one operation, one parameter and the server's own words for that
rule, and only when every field the 422 names is excused: a 422 for any other
reason, on any other parameter, still fails the run.
"""

import json
import os
import re

import schemathesis

# (method, path) -> {parameter: (the start of each message excused, ...)}
EXCUSED = {
    # API.md §6: `name` must equal the organization's current name, a guard
    # against deleting the wrong one (the state of the organization).
    ("POST", "/customer/delete"): {
        "name": ("is not the organization's current name",),
    },
    # API.md §6: a membership's end lies in the future and at most 5 years
    # ahead: a date-time format cannot say "after now". (Owners' memberships
    # never end: the document states that for a role given in the request.)
    ("POST", "/invite/create"): {
        "membershipexpiresat": ("must be in the future", "must be at most 5 years ahead"),
    },
    # As above; and a collaborator who is an owner (their current role, not
    # one given here) cannot be given an end.
    ("POST", "/customer/editcollaborator"): {
        "expiresat": (
            "must be in the future",
            "must be at most 5 years ahead",
            "owners' memberships cannot be time-limited",
        ),
    },
    # API.md §6: the URL's host must resolve, and only to public addresses
    # (the state of DNS; the document states the URL's shape); an
    # organization holds at most 20 webhooks (its state).
    ("POST", "/customer/createwebhook"): {
        "url": (
            "its host does not resolve",
            "must not lead to a loopback, private, link-local or unspecified address",
        ),
        "organizationid": ("an organization has at most 20 webhooks",),
    },
    # API.md §6: `verificationemail` must be at `domain` or a subdomain of it
    # (a relation between two values); a public mail provider's domain
    # cannot be claimed (a list kept by the server); an organization claims
    # at most 50 domains (its state).
    ("POST", "/customer/adddomain"): {
        "verificationemail": ("must be an address at ",),
        "domain": ("belongs to a public email provider",),
        "organizationid": ("an organization claims at most 50 domains",),
    },
}

# API.md §9: an organization's issuer must resolve, only to public
# addresses, and serve a usable discovery document (the state of DNS and of
# the issuer: the document states the URL's shape), over https unless the
# server allows private targets (a setting, said in words); `role` as below,
# never owner (said in words beside the free-text `role`).
EXCUSED[("POST", "/customer/setsso")] = {
    "issuer": (
        "its host does not resolve",
        "must not lead to a loopback, private, link-local or unspecified address",
        "its discovery document cannot be used",
        "must be an https URL (http only with COLLABD_WEBHOOK_ALLOW_PRIVATE)",
    ),
}

# API.md §10: a check names its person by exactly one of `userid` and
# `email`, and takes `projectid` with `project:read` and `project:full` and
# only with them (relations between values the document leaves optional
# each); in a batch the field is named by the check's place
# (`checks.3.userid`), matched here as `checks.*.userid`.
ONE_PERSON = ("give exactly one of userid and email",)
PROJECT_ONLY = (
    "required with project:read and project:full",
    "only with project:read and project:full",
)
for method in ("GET", "POST"):
    EXCUSED[(method, "/access/check")] = {
        "userid": ONE_PERSON,
        "email": ONE_PERSON,
        "projectid": PROJECT_ONLY,
    }
    EXCUSED[(method, "/access/checkbatch")] = {
        "checks.*.userid": ONE_PERSON,
        "checks.*.email": ONE_PERSON,
        "checks.*.projectid": PROJECT_ONLY,
    }
    # API.md §10: a custom role's and a team's name is unique in the
    # organization (its state: the names taken by earlier requests).
    for path in ("/customer/createrole", "/customer/editrole"):
        EXCUSED[(method, path)] = {"name": ("another role of the organization has this name",)}
    for path in ("/customer/createteam", "/customer/editteam"):
        EXCUSED[(method, path)] = {"name": ("another team of this organization has this name",)}

# API.md §10: a role is named by a system role's name or by the name or
# roleid of one of the organization's custom roles (its state: the roles
# made by earlier requests); a team never carries the owner role (§10: the
# owner role's rules are memberships' alone), which the document says in
# words beside the free-text `role`.
NAMED_ROLE = ("must be owner, admin, technical, collaborator, or the name or roleid",)
TEAM_ROLE = (
    "must be admin, technical, collaborator, or the name or roleid",
    "a team cannot carry the owner role",
)
for path, rule in (
    ("/customer/createteam", TEAM_ROLE),
    ("/customer/editteam", TEAM_ROLE),
    ("/invite/create", NAMED_ROLE),
    ("/customer/editcollaborator", NAMED_ROLE),
    ("/customer/adddomain", NAMED_ROLE + ("must be admin, technical or collaborator",)),
    ("/customer/setsso", NAMED_ROLE + ("must be admin, technical or collaborator",)),
):
    EXCUSED.setdefault(("POST", path), {})["role"] = rule


def excused(method, path, fields):
    """True when every message of every field is one excused here."""
    rules = EXCUSED.get((method.upper(), path), {})
    return bool(fields) and all(
        any(message.startswith(start) for start in rules.get(re.sub(r"^checks\.\d+\.", "checks.*.", field), ()))
        for field, messages in fields.items()
        for message in messages
    )


# API.md §11: SCIM answers what it cannot take with 400 and a scimType
# (RFC 7644 §3.12), not collabd's 422: a filter's grammar (RFC 7644
# §3.4.2.2), a PatchOp's operations and paths, and a User or Group body's rules (an
# address to find the account by, a userName unique in the organization: the
# state of the organization) are no JSON Schema. Excused by operation and
# scimType only; any other 400 from SCIM still fails.
SCIM_400 = {
    ("GET", "/scim/v2/Users"): {"invalidFilter"},
    ("POST", "/scim/v2/Users"): {"invalidValue"},
    ("PUT", "/scim/v2/Users/{id}"): {"invalidValue"},
    ("PATCH", "/scim/v2/Users/{id}"): {"invalidValue", "invalidSyntax", "invalidPath", "noTarget", "tooMany"},
    ("GET", "/scim/v2/Groups"): {"invalidFilter"},
    ("POST", "/scim/v2/Groups"): {"invalidValue"},
    ("PUT", "/scim/v2/Groups/{id}"): {"invalidValue"},
    ("PATCH", "/scim/v2/Groups/{id}"): {"invalidValue", "invalidSyntax", "invalidPath", "noTarget", "tooMany"},
}

# API.md §9: the callback of an SSO sign-in answers 400 for a state that
# names no sign-in this server began in this browser, which is every state
# a generator can make (the server's state; the document states its shape).
STATEFUL_400 = {("GET", "/sso/callback")}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but a positive-data 422 excused above, and the
    callback's 400 for a state it never gave."""
    method, path = case.operation.method.upper(), case.operation.path
    if failure.code == "ST202" and response.status_code == 400 and (method, path) in STATEFUL_400:
        return False
    if failure.code == "ST202" and response.status_code == 400 and (method, path) in SCIM_400:
        try:
            kind = response.json().get("scimType")
        except ValueError:
            return True
        if kind in SCIM_400[(method, path)]:
            return False
    if failure.code != "ST202" or response.status_code != 422:
        return True
    try:
        fields = response.json()["response"]["error"]["fields"]
    except (ValueError, KeyError, TypeError):
        return True
    method, path = case.operation.method, case.operation.path
    if not excused(method, path, fields):
        return True
    # Each refusal excused, for the record (scripts/schemathesis names the file).
    log = os.environ.get("SCHEMATHESIS_EXCUSED_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{method.upper()} {path} {json.dumps(fields)}\n")
    return False
