"""The asyncio.TaskGroup side of bench/task/task-group.ts: 100,000 trivial tasks in one group.

Prints one JSON line: {"name": ..., "tasksPerSecond": median of the measured rounds}.
"""
import asyncio
import json
import statistics
import sys
import time

TASKS = 100_000
ROUNDS = 9
WARMUP = 3


async def work():
    # The same trivial task as the Node side: yield once, return a value.
    await asyncio.sleep(0)
    return 1


async def one_round():
    async with asyncio.TaskGroup() as tg:
        for _ in range(TASKS):
            tg.create_task(work())


async def main():
    rates = []
    for round_ in range(WARMUP + ROUNDS):
        started = time.perf_counter()
        await one_round()
        seconds = time.perf_counter() - started
        if round_ >= WARMUP:
            rates.append(TASKS / seconds)
    name = f"asyncio.TaskGroup (Python {sys.version_info.major}.{sys.version_info.minor})"
    print(json.dumps({"name": name, "tasksPerSecond": statistics.median(rates)}))


asyncio.run(main())
