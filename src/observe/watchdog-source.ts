/**
 * The watchdog worker's code, run with `new Worker(WATCHDOG_SOURCE, { eval: true, execArgv: [] })`.
 *
 * Plain CommonJS JavaScript in a string, on purpose: it runs the same from `src/` under tsx and
 * from `dist/` (no worker file to locate or copy, no TypeScript loader in the worker, which also
 * keeps the worker's start-up and memory small), and nothing can transform it.
 *
 * Protocol. `workerData` = { beat: SharedArrayBuffer (BigInt64Array[1]: the main thread's last
 * heartbeat, process.hrtime.bigint()), intervalMs, thresholdMs, captureStack, heartbeatName }.
 * The worker sleeps until the moment the next heartbeat would be `thresholdMs` late; if it has
 * not come, the main thread is blocked: the worker attaches to it with
 * `inspector.Session#connectToMainThread()`, `Debugger.enable` (collecting script URLs from
 * `Debugger.scriptParsed`), `Debugger.pause`, reads the call frames from `Debugger.paused`,
 * `Debugger.resume`, `Debugger.disable`. Then it waits for the heartbeat to move and posts
 * { type: 'block', durationMs, detectedAfterMs, frames, error } to the main thread, which
 * receives it once its loop runs again. Messages to the worker: 'stop'.
 *
 * The debugger is enabled only while a block is being captured: idle, the worker costs one
 * timer every `thresholdMs`, and the main thread one heartbeat timer every `intervalMs`.
 */
export const WATCHDOG_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { beat: beatBuffer, intervalMs, thresholdMs, captureStack, heartbeatName } = workerData;
const beat = new BigInt64Array(beatBuffer);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const lastBeatMs = () => Number(Atomics.load(beat, 0)) / 1e6;

let session;
let timer;
let stopped = false;

// Connected only while a block is captured: an open session to the main thread makes Node print
// "Waiting for the debugger to disconnect..." at exit.
function connect() {
  const inspector = require('node:inspector');
  session = new inspector.Session();
  session.connectToMainThread();
}

function disconnect() {
  if (session !== undefined) session.disconnect();
  session = undefined;
}

function post(method, params) {
  return new Promise((resolve, reject) => {
    session.post(method, params || {}, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

async function capture(since) {
  try {
    connect();
  } catch (error) {
    disconnect();
    return { frames: [], error: String((error && error.message) || error) };
  }
  const urls = new Map();
  const onScript = (m) => urls.set(m.params.scriptId, m.params.url);
  session.on('Debugger.scriptParsed', onScript);
  let onPaused;
  const paused = new Promise((resolve) => {
    onPaused = (m) => resolve(m.params);
    session.once('Debugger.paused', onPaused);
  });
  try {
    await post('Debugger.enable');
    await post('Debugger.pause');
    // The pause lands at the main thread's next JavaScript instruction. If the loop is blocked
    // inside native code, that is when the native call returns; if it unblocked meanwhile, the
    // next JS to run may be our own heartbeat, which says nothing: give up then.
    // Bounded: a pause that never lands (it should not) must not stop the watchdog for good.
    let giveUp;
    const params = await Promise.race([
      paused,
      new Promise((resolve) => {
        giveUp = setTimeout(resolve, Math.max(2000, 4 * thresholdMs), undefined);
      }),
    ]);
    clearTimeout(giveUp);
    if (params === undefined) return { frames: [], error: 'the main thread did not pause in time' };
    const frames = params.callFrames.map((f) => ({
      functionName: f.functionName,
      url: urls.get(f.location.scriptId) || f.url || '',
      line: f.location.lineNumber + 1,
      column: (f.location.columnNumber || 0) + 1,
    }));
    // Read while the main thread is paused: the heartbeat cannot move under us.
    const stale = lastBeatMs() !== since || (frames[0] && frames[0].functionName === heartbeatName);
    await post('Debugger.resume');
    return stale
      ? { frames: [], error: 'the main thread resumed before its stack could be read (blocked outside JavaScript?)' }
      : { frames, error: undefined };
  } catch (error) {
    return { frames: [], error: String((error && error.message) || error) };
  } finally {
    session.off('Debugger.scriptParsed', onScript);
    session.off('Debugger.paused', onPaused);
    await post('Debugger.disable').catch(() => {});
    disconnect();
  }
}

function waitForBeat(since) {
  return new Promise((resolve) => {
    const poll = () => {
      if (stopped) return;
      const last = lastBeatMs();
      if (last !== since) resolve(last);
      else timer = setTimeout(poll, Math.max(1, Math.min(intervalMs, 20)));
    };
    poll();
  });
}

async function onBlocked(since, detectedAfterMs) {
  const { frames, error } = captureStack ? await capture(since) : { frames: [], error: undefined };
  const next = await waitForBeat(since);
  if (stopped) return;
  // The heartbeat due at since + intervalMs ran at next: the loop was that late.
  parentPort.postMessage({
    type: 'block',
    durationMs: next - since - intervalMs,
    detectedAfterMs,
    frames,
    error,
  });
  watch();
}

function watch() {
  if (stopped) return;
  const since = lastBeatMs();
  const lateMs = nowMs() - since - intervalMs;
  if (lateMs >= thresholdMs) {
    onBlocked(since, lateMs);
    return;
  }
  timer = setTimeout(watch, Math.max(1, Math.ceil(thresholdMs - lateMs)));
}

parentPort.on('message', (message) => {
  if (message === 'stop') {
    stopped = true;
    clearTimeout(timer);
    disconnect();
    parentPort.close();
  }
});
try {
  // Fail at start, not at the first block, where the inspector is missing (a build without it).
  if (captureStack) require('node:inspector');
  parentPort.postMessage({ type: 'ready' });
  watch();
} catch (error) {
  parentPort.postMessage({ type: 'failed', error: String((error && error.message) || error) });
}
`;
