import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { timeout } from '../../src/cancel/index.ts';
import { TaskGroup } from '../../src/task/index.ts';
import { turns } from '../support/helpers.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const MB = 1024 * 1024;

/**
 * Runs `iteration` `total` times; compares the heap after the first tenth (warm) with the heap
 * at the end. A leak of even 16 bytes per iteration would show as 14 MB over a million.
 */
async function heapGrowth(
  total: number,
  iteration: (i: number) => Promise<unknown>,
): Promise<number> {
  const warmup = total / 10;
  let warm = 0;
  for (let i = 0; i < total; i++) {
    await iteration(i);
    if (i === warmup) warm = heapAfterGc();
  }
  return heapAfterGc() - warm;
}

describe('no leaks', () => {
  it('a million timeouts under one long-lived signal keep the heap flat and leave no listener', async () => {
    const shutdown = new AbortController();
    const options = { signal: shutdown.signal };
    const work = async () => 1;
    const growth = await heapGrowth(1_000_000, () => timeout(60_000, work, options));
    assert.ok(growth < 8 * MB, `heap grew ${(growth / MB).toFixed(1)} MB`);
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
  });

  it('a million cancelled groups under one long-lived signal keep the heap flat', async () => {
    const shutdown = new AbortController();
    const options = { signal: shutdown.signal };
    const untilAborted = (signal: AbortSignal) => turns(Number.POSITIVE_INFINITY, signal);
    const growth = await heapGrowth(1_000_000, (i) => {
      const tg = new TaskGroup(options);
      tg.spawn(untilAborted);
      tg.spawn(async () => i);
      tg.cancel();
      return tg.wait();
    });
    assert.ok(growth < 8 * MB, `heap grew ${(growth / MB).toFixed(1)} MB`);
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
  });
});
