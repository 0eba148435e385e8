"""Runs the scim2-tester conformance suite, as published, against one SCIM server.

    python scripts/scim-conformance.py BASE_URL BEARER_KEY LABEL [HTTP_LOG]

BASE_URL is the SCIM root (e.g. http://127.0.0.1:8080/scim/v2), BEARER_KEY an
API key bound to the organization (API.md §11), LABEL names the run in the
output. Called by scripts/scim-conformance, which starts the server.

check_server() is called with a scim2-client SyncSCIMClient on an httpx2
client and no tag or resource-type filter: the suite does its own discovery
(ServiceProviderConfig, ResourceTypes, Schemas) and then every check on every
resource type it found. Every result is printed, one line each (status,
resource type, check, reason), with the data the suite attached to each
failure, then the counts per status. The exit status is 1 when any result is
other than SUCCESS or SKIPPED.

HTTP_LOG, when given, receives every request the suite sent and every answer,
in order (an httpx2 event hook: it only observes), to tell which call a failed
check made.
"""

import collections
import json
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSING = {Status.SUCCESS, Status.SKIPPED}
DATA_LIMIT = 4000


def short(value, limit=DATA_LIMIT):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


def transcript_hooks(path):
    log = open(path, "w", encoding="utf-8")
    counter = {"n": 0}

    def on_request(request):
        counter["n"] += 1
        request.extensions["scim_conformance_n"] = counter["n"]
        body = request.content.decode("utf-8", "replace") if request.content else ""
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        log.write(f"\n>>> #{counter['n']} {request.method} {request.url}\n")
        log.write(f"    {json.dumps(headers)}\n")
        if body:
            log.write(f"    {body}\n")
        log.flush()

    def on_response(response):
        response.read()
        n = response.request.extensions.get("scim_conformance_n", "?")
        headers = {k: v for k, v in response.headers.items()}
        log.write(f"<<< #{n} {response.status_code} {json.dumps(headers)}\n")
        if response.content:
            log.write(f"    {response.content.decode('utf-8', 'replace')}\n")
        log.flush()

    return {"request": [on_request], "response": [on_response]}


def main():
    base_url, key, label = sys.argv[1], sys.argv[2], sys.argv[3]
    http_log = sys.argv[4] if len(sys.argv) > 4 else None
    hooks = transcript_hooks(http_log) if http_log else None
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        event_hooks=hooks,
    )
    scim = SyncSCIMClient(http)
    results = check_server(scim)

    print(f"=== scim2-tester results: {label} ({base_url}) ===")
    counts = collections.Counter()
    failed = []
    for result in results:
        counts[result.status.name] += 1
        where = result.resource_type or "-"
        reason = (result.reason or "").replace("\n", " | ")
        print(f"{result.status.name:<9} {where:<8} {result.title}: {reason}")
        if result.status not in PASSING:
            failed.append(result)
            if result.data is not None:
                print(f"          data: {short(result.data)}")

    print(f"=== {label}: counts per status ===")
    for status in Status:
        if counts[status.name]:
            print(f"{status.name} {counts[status.name]}")
    print(f"TOTAL {len(results)}")
    passed = len(results) - len(failed)
    print(f"{label}: {passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
