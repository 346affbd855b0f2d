#!/usr/bin/env python3
"""Signup-to-mail latency against a running service and MailDev (src/run-local.sh).

Sends N signups one after another, each with a new address, and for each one measures the time
from sending the POST to the moment MailDev's API lists the message (polled every 2 ms), so the
dispatcher is idle when each signup arrives. Prints p50/p95/max in milliseconds.

  tests/bench/mail-latency.py [N] [service URL] [MailDev URL]
"""
import json, statistics, sys, time, urllib.request, uuid

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
service = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:5080"
maildev = sys.argv[3] if len(sys.argv) > 3 else "http://127.0.0.1:1080"

def has_mail_to(address):
    with urllib.request.urlopen(f"{maildev}/email") as r:
        return any(t["address"] == address for m in json.load(r) for t in m["to"])

urllib.request.urlopen(urllib.request.Request(f"{maildev}/email/all", method="DELETE")).read()
latencies = []
for i in range(n):
    address = f"latency-{uuid.uuid4().hex[:12]}@example.org"
    body = json.dumps({"email": address, "consent": True}).encode()
    request = urllib.request.Request(f"{service}/api/subscriptions", body, {"content-type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request) as r:
        assert r.status == 202, r.status
    while not has_mail_to(address):
        if time.perf_counter() - start > 10:
            sys.exit(f"no mail for {address} within 10 s")
        time.sleep(0.002)
    latencies.append((time.perf_counter() - start) * 1000)
    time.sleep(0.05)  # let the dispatcher go idle again

q = statistics.quantiles(latencies, n=100)
print(f"signup-to-mail over {n} signups: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, max {max(latencies):.1f} ms")
