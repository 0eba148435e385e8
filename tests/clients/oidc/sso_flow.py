"""Organization sign-in (API.md §9) in a real headless Chromium, against a
real OpenID provider (oidc-provider, started by scripts/sso-browser) and a
real collabd (SQLite or PostgreSQL behind it).

    python3 sso_flow.py COLLABD_URL MAIL_DIR ISSUER CLIENT_ID CLIENT_SECRET NODE SHOTS_DIR

The API calls are plain HTTP (urllib); every browser step is signin.mjs
(puppeteer-core driving Chromium): start at /sso/{organizationid}, the
provider's login and consent, back to collabd's callback page. Checks: the
page's session works and the newcomer has the SSO role; a replayed and a
forged state answer 400; enforcement at a verified domain (403 sso_required
for a password session, the SSO session works, the owner exempt); a removed
member is not added again (403 page). Screenshots of each page collabd
showed go to SHOTS_DIR.
"""

import email
import email.policy
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

BASE, MAIL_DIR, ISSUER, CLIENT_ID, CLIENT_SECRET, NODE, SHOTS = sys.argv[1:8]
MAIL_DIR = pathlib.Path(MAIL_DIR)
SHOTS = pathlib.Path(SHOTS)
SIGNIN = pathlib.Path(__file__).with_name("signin.mjs")
PASSWORD = "correct horse battery"
RUN = uuid.uuid4().hex[:8]
DOMAIN = f"acme-{RUN}.example.org"


def call(path, token=None, body=None, method="POST"):
    """(status, envelope's response) of one API call."""
    if body is None and method == "POST":
        body = {}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())["response"]
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())["response"]


def ok(path, token=None, body=None):
    """The response of a 200 answer: a GET when `path` carries a query."""
    method = "GET" if body is None and "?" in path else "POST"
    status, response = call(path, token, body, method)
    assert status == 200, f"{path}: {status} {response}"
    return response


def page_status(url):
    """The status of a page collabd shows, following nothing."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def mailed_token(address, kind, taken=()):
    """The token of the newest `/{kind}/` link mailed to `address`."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for path in sorted(MAIL_DIR.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address not in str(msg["To"]):
                continue
            for part in msg.walk():
                if part.get_content_maintype() == "text":
                    m = re.search(rf"/{kind}/([A-Za-z0-9_-]+)", part.get_content())
                    if m and m.group(1) not in taken:
                        return m.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no /{kind}/ link mailed to {address}")


def browser_sign_in(start, login, shot):
    """signin.mjs in Chromium: {status, url, text} of the page it ends on."""
    out = subprocess.run(
        [NODE, str(SIGNIN), start, login, str(SHOTS / shot)],
        env={**os.environ, "OIDC_ISSUER": ISSUER},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 0, f"signin.mjs failed: {out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def session_in(text):
    m = re.search(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", text)
    assert m, f"no session token on the page: {text}"
    return m.group(0)


def main():
    SHOTS.mkdir(parents=True, exist_ok=True)
    owner_email = f"owner@{DOMAIN}"
    ok("/user/signup", body={"email": owner_email, "password": PASSWORD, "name": "Owner"})
    owner = ok("/user/login", body={"email": owner_email, "password": PASSWORD})["login"]["token"]
    org = ok("/user/createorganization", owner, {"name": f"Acme {RUN}"})["organization"]["organizationid"]

    # The company's domain, verified for the organization.
    ok("/customer/adddomain", owner,
       {"organizationid": org, "domain": DOMAIN, "verificationemail": f"it@{DOMAIN}"})
    ok("/customer/verifydomain", body={"token": mailed_token(f"it@{DOMAIN}", "domain")})

    # A member by invite, before SSO: a session made by the invite.
    fay = f"fay@{DOMAIN}"
    ok("/invite/create", owner, {"organizationid": org, "email": fay, "role": "collaborator"})
    accepted = ok("/invite/accept", body={"token": mailed_token(fay, "invite"), "password": PASSWORD})
    fay_invite_session = accepted["login"]["token"]

    sso = ok("/customer/setsso", owner, {
        "organizationid": org, "issuer": ISSUER, "clientid": CLIENT_ID,
        "clientsecret": CLIENT_SECRET, "role": "technical", "enforce": True,
    })["sso"]
    assert sso["redirecturi"] == f"{BASE}/sso/callback", sso
    start = f"{BASE}/sso/{org}"

    # Enforcement: a session not made by the organization's SSO is refused.
    status, response = call(f"/customer/details?organizationid={org}", fay_invite_session, method="GET")
    assert status == 403 and response["error"]["reason"] == "sso_required", (status, response)
    fay_password = ok("/user/login", body={"email": fay, "password": PASSWORD})["login"]["token"]
    status, response = call(f"/customer/listcollaborators?organizationid={org}", fay_password, method="GET")
    assert status == 403 and response["error"]["reason"] == "sso_required", (status, response)
    # Owners are exempt.
    ok(f"/customer/details?organizationid={org}", owner)
    print("sso-browser: enforcement refuses password and invite sessions (sso_required); owner exempt")

    # Fay through the browser: the same account, an SSO session that works.
    page = browser_sign_in(start, fay, "signed-in-member.png")
    assert page["status"] == 200, page
    assert page["url"].startswith(f"{BASE}/sso/callback?"), page
    assert fay in page["text"] and f"Acme {RUN}" in page["text"], page
    fay_sso = session_in(page["text"])
    details = ok(f"/customer/details?organizationid={org}", fay_sso)
    assert details["organization"]["role"] == "collaborator", details
    ok(f"/customer/listprojects?organizationid={org}", fay_sso)
    print("sso-browser: an SSO session of a member at the verified domain works")

    # Replayed: the callback's own address again.
    status, body = page_status(page["url"])
    assert status == 400, (status, body)
    # Forged.
    status, body = page_status(f"{BASE}/sso/callback?state={'A' * 43}&code=forged")
    assert status == 400, (status, body)
    print("sso-browser: replayed and forged states answer 400")

    # A newcomer: made, verified, joined with the SSO role.
    newbie = f"newbie@{DOMAIN}"
    page = browser_sign_in(start, newbie, "signed-in-newcomer.png")
    assert page["status"] == 200, page
    assert "You joined" in page["text"] and "technical" in page["text"], page
    newbie_sso = session_in(page["text"])
    details = ok(f"/customer/details?organizationid={org}", newbie_sso)
    assert details["organization"]["role"] == "technical", details
    me = ok("/user/details", newbie_sso)["user"]
    assert me["email"] == newbie and me["emailverified"] is True, me
    joined = [e for e in ok(f"/customer/listauditevents?organizationid={org}", owner)["auditevents"]
              if e["action"] == "collaborator.joined"]
    assert any(e["details"]["via"] == "sso" and e["details"]["email"] == newbie for e in joined), joined
    print("sso-browser: a newcomer joins with the SSO role (collaborator.joined via sso)")

    # Removed: not added again.
    members = ok(f"/customer/listcollaborators?organizationid={org}", owner)["collaborators"]
    newbie_id = next(c["collaboratorid"] for c in members if c["email"] == newbie)
    ok("/customer/removecollaborator", owner, {"collaboratorid": newbie_id})
    page = browser_sign_in(start, newbie, "removed-member.png")
    assert page["status"] == 403, page
    assert "no longer a member" in page["text"], page
    status, _ = call(f"/customer/details?organizationid={org}", newbie_sso, method="GET")
    assert status == 404, status
    print("sso-browser: a removed member is not added again (403 page)")
    print(f"sso-browser: screenshots in {SHOTS}")


if __name__ == "__main__":
    main()
