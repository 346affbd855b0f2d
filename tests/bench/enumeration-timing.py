#!/usr/bin/env python3
"""Does signup take measurably longer for a new address than for a known one?

Against a running service (src/run-local.sh, with RateLimits__Signup__Burst raised),
alternates N signups of fresh addresses with N repeat signups of a known address (CONFIRMED_ADDRESS
from the environment: one confirmed beforehand) and N of a pending one, and prints the median and
p90 of each and the gap between medians next to the spread of the fresh ones.

  CONFIRMED_ADDRESS=someone@example.org tests/bench/enumeration-timing.py [N] [service URL]
"""
import json, os, statistics, sys, time, urllib.request, uuid

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
service = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:5080"

def signup(address):
    body = json.dumps({"email": address, "consent": True}).encode()
    request = urllib.request.Request(f"{service}/api/subscriptions", body, {"content-type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request) as r:
        r.read()
        assert r.status == 202
    return (time.perf_counter() - start) * 1000

known = os.environ["CONFIRMED_ADDRESS"]
pending = f"pending-{uuid.uuid4().hex[:8]}@example.org"
signup(pending)
for _ in range(20):  # warm up
    signup(f"warm-{uuid.uuid4().hex[:12]}@example.org")

times = {"new": [], "known": [], "pending": []}
for _ in range(n):
    times["new"].append(signup(f"fresh-{uuid.uuid4().hex[:12]}@example.org"))
    times["known"].append(signup(known))
    times["pending"].append(signup(pending))

for name, values in times.items():
    q = statistics.quantiles(values, n=10)
    print(f"{name:8} median {statistics.median(values):6.2f} ms   p90 {q[8]:6.2f} ms")
spread = statistics.quantiles(times["new"], n=4)
print(f"gap new-known {statistics.median(times['new']) - statistics.median(times['known']):+.2f} ms, "
      f"new-pending {statistics.median(times['new']) - statistics.median(times['pending']):+.2f} ms; "
      f"interquartile range of new: {spread[2] - spread[0]:.2f} ms")
