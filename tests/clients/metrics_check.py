"""Reads BASE_URL/metrics with prometheus_client's parsers (run by
scripts/metrics-parsers): the classic text parser on the default answer
(Prometheus text 0.0.4) and the OpenMetrics parser on the answer to
`Accept: application/openmetrics-text`. Checks that the request counter keeps
its counter type, that requests and latency carry endpoint and status labels
with the right counts, and that the outbox and pool gauges are there."""

import sys
import urllib.error
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic

base = sys.argv[1]


def get(path, accept=None):
    request = urllib.request.Request(base + path)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request) as response:
            return response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.headers.get("Content-Type", ""), e.read().decode()


for _ in range(3):
    get("/api/serviceinfo")
get("/no/such/path")

problems = []


def check(families, kind):
    by_name = {f.name: f for f in families}
    requests = by_name.get("collabd_http_requests")
    if requests is None or requests.type != "counter":
        problems.append(f"{kind}: collabd_http_requests is not a counter: "
                        f"{requests.type if requests else 'missing'} (families: {sorted(by_name)})")
    else:
        served = [s for s in requests.samples
                  if s.name == "collabd_http_requests_total"
                  and s.labels.get("endpoint") == "/api/serviceinfo"
                  and s.labels.get("status") == "200"]
        if not served or served[0].value < 3:
            problems.append(f"{kind}: no count of 3 for /api/serviceinfo 200: {requests.samples}")
        if not any(s.labels.get("endpoint") == "unmatched" and s.labels.get("status") == "404"
                   for s in requests.samples):
            problems.append(f"{kind}: the unmatched 404 is not counted")
    latency = by_name.get("collabd_http_request_duration_seconds")
    if latency is None or latency.type != "histogram":
        problems.append(f"{kind}: collabd_http_request_duration_seconds is not a histogram")
    else:
        counts = [s for s in latency.samples
                  if s.name.endswith("_count")
                  and s.labels.get("endpoint") == "/api/serviceinfo"
                  and s.labels.get("status") == "200"]
        if not counts or counts[0].value < 3:
            problems.append(f"{kind}: latency is not by endpoint and status: {latency.samples[:5]}")
    for gauge in ("collabd_outbox_messages", "collabd_db_pool_connections"):
        if by_name.get(gauge) is None or by_name[gauge].type != "gauge":
            problems.append(f"{kind}: {gauge} is not a gauge")


content_type, text = get("/metrics")
if not content_type.startswith("text/plain; version=0.0.4"):
    problems.append(f"default answer's Content-Type is {content_type!r}")
check(list(classic(text)), "classic 0.0.4")

content_type, text = get("/metrics", "application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
if not content_type.startswith("application/openmetrics-text"):
    problems.append(f"OpenMetrics answer's Content-Type is {content_type!r}")
check(list(openmetrics(text)), "OpenMetrics")

if problems:
    print("metrics-parsers: FAILED")
    for p in problems:
        print("  -", p)
    sys.exit(1)
print("metrics-parsers: /metrics parses with Prometheus's classic text parser (0.0.4) and its "
      "OpenMetrics parser; counter and histogram types kept, requests and latency by endpoint and status")
