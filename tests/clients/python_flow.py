"""Drive the invite flow against a running collabd with nothing but the client
that openapi-python-client generated from openapi/openapi.json.

Run by scripts/client-python, which puts the generated package `collabd_client`
on PYTHONPATH and sets COLLABD_URL and COLLABD_MAIL_DIR. Every API call goes
through the generated modules; the only other I/O is reading the invitation
email that the server wrote as an .eml file (no SMTP in the test).
"""

import email
import email.policy
import os
import pathlib
import re
import subprocess
import time
import uuid

from collabd_client import AuthenticatedClient, Client
from collabd_client.api.access import access_check, access_checkbatch
from collabd_client.api.customer import (
    customer_addteammember,
    customer_createproject,
    customer_createrole,
    customer_createteam,
    customer_listcollaborators,
    customer_listroles,
    customer_mypermissions,
)
from collabd_client.api.invite import invite_accept, invite_create
from collabd_client.api.user import user_createorganization, user_login, user_signup
from collabd_client.models import (
    AcceptParams,
    CheckBatchParams,
    CheckedPermission,
    CheckParams,
    CreateRoleParams,
    CreateRoleParamsPermissionsItem,
    CreateTeamParams,
    OrganizationParams,
    TeamMemberParams,
    CreateInviteParams,
    CreateOrganizationParams,
    CreateProjectParams,
    LoginParams,
    PageParams,
    Permission,
    ProjectPermissionParam,
    SignupParams,
)

BASE = os.environ["COLLABD_URL"]
MAIL_DIR = pathlib.Path(os.environ["COLLABD_MAIL_DIR"])


def ok(resp):
    """The payload inside the envelope of a 200 answer; anything else fails
    loudly with the status and raw body, so a spec/server mismatch is visible."""
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {resp.content!r}"
    assert resp.parsed is not None, f"unparsed answer: {resp.content!r}"
    return resp.parsed.response


def invite_token(address, timeout=20.0):
    """The token of the invitation link mailed to `address`. Signup also mails
    (a confirmation link), so match on the recipient and the /invite/ path."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(MAIL_DIR.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address not in str(msg["To"]):
                continue
            # Decode every text part (the link may be quoted-printable).
            for part in msg.walk():
                if part.get_content_maintype() == "text":
                    m = re.search(r"/invite/([A-Za-z0-9._~-]+)", part.get_content())
                    if m:
                        return m.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no invitation email for {address} in {MAIL_DIR}")


def main():
    run = uuid.uuid4().hex[:8]  # unique addresses, so a reused DB does not clash
    owner_email, guest_email = f"owner-{run}@example.com", f"guest-{run}@example.com"
    anon = Client(base_url=BASE, raise_on_unexpected_status=True)

    # 1. Two accounts; log in as the first.
    for addr, name in [(owner_email, "Owner"), (guest_email, "Guest")]:
        user = ok(user_signup.sync_detailed(client=anon, body=SignupParams(email=addr, password="correct horse 1", name=name))).user
        assert user.email == addr
    login = ok(user_login.sync_detailed(client=anon, body=LoginParams(email=owner_email, password="correct horse 1"))).login
    owner = AuthenticatedClient(base_url=BASE, token=login.token, raise_on_unexpected_status=True)

    # 2. An organization and a project in it.
    org = ok(user_createorganization.sync_detailed(client=owner, body=CreateOrganizationParams(name=f"Org {run}"))).organization
    project = ok(customer_createproject.sync_detailed(
        client=owner, body=CreateProjectParams(organizationid=org.organizationid, name="Apollo"))).project

    # 3. Invite the second address as technical with full permission on the
    #    project. projectpermissions is a list of objects: only a JSON body can
    #    carry it, so this also proves the client sends JSON.
    invite = ok(invite_create.sync_detailed(client=owner, body=CreateInviteParams(
        organizationid=org.organizationid, email=guest_email, role="technical",
        projectpermissions=[ProjectPermissionParam(projectid=project.projectid, permission=Permission.FULL)],
    ))).invite
    assert invite.role == "technical", invite
    assert [(g.projectid, g.permission) for g in invite.projectpermissions] == [(project.projectid, Permission.FULL)], invite

    # 4. Accept by the emailed token, without a session. The generator types
    #    this endpoint's client as AuthenticatedClient (its security lists
    #    bearer *or* nothing), but a plain Client is what "no session" means.
    accepted = ok(invite_accept.sync_detailed(client=anon, body=AcceptParams(token=invite_token(guest_email))))
    assert accepted.login.token and accepted.login.user.email == guest_email, accepted
    assert accepted.collaborator.role == "technical", accepted

    # 5. Two collaborators: the owner, and the guest as technical with full on the project.
    listed = ok(customer_listcollaborators.sync_detailed(client=owner, body=PageParams(organizationid=org.organizationid)))
    by_email = {c.email: c for c in listed.collaborators}
    assert sorted(by_email) == sorted([owner_email, guest_email]), by_email
    assert by_email[owner_email].role == "owner"
    guest = by_email[guest_email]
    assert guest.role == "technical"
    assert [(g.projectid, g.projectname, g.permission) for g in guest.projectpermissions] == [
        (project.projectid, "Apollo", Permission.FULL)], guest.projectpermissions

    # 6. A custom role of the organization's own, and a team carrying it
    #    with the guest in it (API.md §10).
    role = ok(customer_createrole.sync_detailed(client=owner, body=CreateRoleParams(
        organizationid=org.organizationid, name="auditor",
        permissions=[CreateRoleParamsPermissionsItem("organization:read"),
                     CreateRoleParamsPermissionsItem("audit:read")]))).role
    assert role.name == "auditor" and not role.system, role
    roles = ok(customer_listroles.sync_detailed(client=owner, body=OrganizationParams(
        organizationid=org.organizationid))).roles
    assert [r.name for r in roles][-1] == "auditor" and roles[0].system, roles
    team = ok(customer_createteam.sync_detailed(client=owner, body=CreateTeamParams(
        organizationid=org.organizationid, name="Audit", role=role.roleid))).team
    assert team.role == "auditor" and team.roleid == role.roleid, team
    member = ok(customer_addteammember.sync_detailed(client=owner, body=TeamMemberParams(
        teamid=team.teamid, collaboratorid=guest.collaboratorid))).team
    assert member.membercount == 1, member
    guest_client = AuthenticatedClient(base_url=BASE, token=accepted.login.token,
                                       raise_on_unexpected_status=True)
    mine = ok(customer_mypermissions.sync_detailed(client=guest_client, body=OrganizationParams(
        organizationid=org.organizationid))).permissions
    assert "audit:read" in mine.organization, mine

    # 7. The provider's service asks with a service key the operator made.
    key = subprocess.run([os.environ["COLLABD_BIN"], "servicekey", "create", f"flow-{run}"],
                         env={**os.environ, "COLLABD_DATABASE_URL": os.environ["COLLABD_DB"]},
                         check=True, capture_output=True, text=True).stdout.strip()
    service = AuthenticatedClient(base_url=BASE, token=key, raise_on_unexpected_status=True)
    guest_id = accepted.login.user.userid
    answer = ok(access_check.sync_detailed(client=service, body=CheckParams(
        organizationid=org.organizationid, userid=guest_id,
        permission=CheckedPermission("audit:read")))).check
    assert answer.allowed and answer.reason == "team", answer
    batch = ok(access_checkbatch.sync_detailed(client=service, body=CheckBatchParams(checks=[
        CheckParams(organizationid=org.organizationid, userid=guest_id,
                    permission=CheckedPermission("project:full"), projectid=project.projectid),
        CheckParams(organizationid=org.organizationid, email="nobody@example.com",
                    permission=CheckedPermission("organization:read")),
    ]))).checks
    assert [(c.allowed, c.reason) for c in batch] == [(True, "grant"), (False, "not_member")], batch
    print(f"python client flow: org {org.organizationid}, project {project.projectid}, "
          f"{len(listed.collaborators)} collaborators, role, team and checks OK")


if __name__ == "__main__":
    main()
