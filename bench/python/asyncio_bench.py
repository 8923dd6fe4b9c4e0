"""The sync/queue benchmark's workloads in Python asyncio, for bench/sync/run.ts.

    python3 bench/python/asyncio_bench.py <run|queue|acquire>

Prints one JSON line: {"workload", "contender", "opsPerSec", "rounds"} (the best round).
"""
import asyncio
import json
import sys
import time

TASKS = 200_000
CONCURRENCY = 50
QUEUE_ITEMS = 1_000_000
QUEUE_MAXSIZE = 100
ACQUIRES = 2_000_000
HANDOVERS = 200_000
ROUNDS = 3


async def run_round():
    sem = asyncio.Semaphore(CONCURRENCY)

    async def task(i):
        async with sem:
            return i

    await asyncio.gather(*(task(i) for i in range(TASKS)))
    return TASKS


async def queue_round():
    queue = asyncio.Queue(maxsize=QUEUE_MAXSIZE)

    async def producer():
        for i in range(QUEUE_ITEMS):
            await queue.put(i)

    prod = asyncio.create_task(producer())
    total = 0
    for _ in range(QUEUE_ITEMS):
        total += await queue.get()
    await prod
    assert total == QUEUE_ITEMS * (QUEUE_ITEMS - 1) // 2
    return QUEUE_ITEMS


async def acquire_round():
    sem = asyncio.Semaphore(1)
    for _ in range(ACQUIRES):
        await sem.acquire()
        sem.release()
    return ACQUIRES


async def handover_round():
    sem = asyncio.Semaphore(1)

    async def worker():
        for _ in range(HANDOVERS // 2):
            await sem.acquire()
            await asyncio.sleep(0)
            sem.release()

    await asyncio.gather(worker(), worker())
    return HANDOVERS


ROUND = {"run": run_round, "queue": queue_round, "acquire": acquire_round, "handover": handover_round}
NAME = {"run": "asyncio.Semaphore", "queue": "asyncio.Queue", "acquire": "asyncio.Semaphore",
        "handover": "asyncio.Semaphore"}


async def main(workload):
    round_fn = ROUND[workload]
    rounds = 1 if workload == "run" else ROUNDS
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        ops = await round_fn()
        rates.append(ops / (time.perf_counter() - started))
    print(json.dumps({"workload": workload, "contender": NAME[workload] + " (Python " + sys.version.split()[0] + ")",
                      "opsPerSec": max(rates), "rounds": rounds}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
