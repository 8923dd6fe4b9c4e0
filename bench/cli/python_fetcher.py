"""The seed stack: ThreadPoolExecutor(50) + http.client, one keep-alive connection per thread.

    python3 bench/cli/python_fetcher.py <port> <count> <concurrency>
"""
import http.client
import json
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

port, count, concurrency = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
local = threading.local()


def fetch(i):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/page/{i}")
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, len(body)


t0 = time.perf_counter()
ok = 0
nbytes = 0
with ThreadPoolExecutor(max_workers=concurrency) as pool:
    for status, size in pool.map(fetch, range(count)):
        ok += status == 200
        nbytes += size
ms = (time.perf_counter() - t0) * 1000
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "ok": ok,
    "bytes": nbytes,
    "ms": ms,
    "maxRssKb": u.ru_maxrss,  # KiB on Linux
    "cpuMs": (u.ru_utime + u.ru_stime) * 1000,
}))
