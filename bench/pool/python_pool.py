"""Python's executors on the pool benchmark's trivial task, for comparison.

    python3 bench/pool/python_pool.py process|thread

Same shape as the Node contenders: 2 workers, at most 256 tasks in flight; prints one JSON line.
"""
import concurrent.futures as cf
import json
import sys
import time

WORKERS = 2
IN_FLIGHT = 256


def add_one(x):
    return x + 1


def throughput(executor, n):
    started = time.perf_counter()
    pending = set()
    total = 0
    for i in range(n):
        if len(pending) >= IN_FLIGHT:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            total += sum(f.result() for f in done)
        pending.add(executor.submit(add_one, i))
    total += sum(f.result() for f in pending)
    assert total == n * (n - 1) // 2 + n
    return n / (time.perf_counter() - started)


def main():
    kind = sys.argv[1]
    n = 20_000 if kind == "process" else 100_000
    ctor = cf.ProcessPoolExecutor if kind == "process" else cf.ThreadPoolExecutor
    with ctor(max_workers=WORKERS) as executor:
        throughput(executor, 2_000)
        rate = throughput(executor, n)
    print(json.dumps({"workload": kind, "contender": f"python {kind}", "tasksPerSec": rate}))


if __name__ == "__main__":
    main()
