// One contender of the resilience benchmark, run in a fresh process by run.ts.
// Prints one JSON line: { contender, nsPerCall } (CPU time; the best of the measured rounds).
import * as cockatiel from 'cockatiel';
import CircuitBreaker from 'opossum';
import { timeout } from '../../src/cancel/index.ts';
import { bulkhead, circuitBreaker, compose, retry } from '../../src/resilience/index.ts';

export const CALLS = 100_000;
const ROUNDS = 7;
const WARMUP = 2;

// The trivial async function: it yields once, like an I/O call whose result is ready. Every
// contender calls this same function.
const work = async (): Promise<number> => {
  await null;
  return 1;
};

// The same, declaring the signal parameter, as real I/O does (`(signal) => fetch(url, { signal })`).
// switchyard makes a timeout's AbortSignal only for work that can read it (or a layer that
// waits), so this is its cost when the signal is needed; cockatiel makes one on every call.
const workTakingSignal = async (_signal: AbortSignal): Promise<number> => {
  await null;
  return 1;
};

type Call = () => Promise<unknown>;

// The same for cockatiel, which hands its work a context object with the signal.
const workTakingContext = async (_context: { signal: AbortSignal }): Promise<number> => {
  await null;
  return 1;
};

function switchyard(
  withTimeout: boolean,
  fn: (signal: AbortSignal) => Promise<number> = work,
): Call {
  const rest = [
    retry({ attempts: 3 }),
    circuitBreaker({ failureThreshold: 5, halfOpenAfterMs: 10_000 }),
    bulkhead({ concurrency: 100, queue: 100 }),
  ] as const;
  const policy = withTimeout ? compose(timeout(1_000), ...rest) : compose(...rest);
  return () => policy.execute(fn);
}

function cockatielWrap(
  withTimeout: boolean,
  fn: (context: { signal: AbortSignal }) => Promise<number> = work,
): Call {
  const { handleAll } = cockatiel;
  const rest = [
    cockatiel.retry(handleAll, { maxAttempts: 2, backoff: new cockatiel.ExponentialBackoff() }),
    cockatiel.circuitBreaker(handleAll, {
      halfOpenAfter: 10_000,
      breaker: new cockatiel.ConsecutiveBreaker(5),
    }),
    cockatiel.bulkhead(100, 100),
  ] as const;
  const policy = withTimeout
    ? cockatiel.wrap(cockatiel.timeout(1_000, cockatiel.TimeoutStrategy.Cooperative), ...rest)
    : cockatiel.wrap(...rest);
  return () => policy.execute(fn);
}

// Not a library: the least any four layers with a deadline can do — read the clock once and
// watch the outcome four times (one `.then` each). A lower bound for the composed rows.
const identity = (value: number): number => value;
let deadlineSink = 0;
const floorOfFourLayers: Call = () => {
  deadlineSink = performance.now() + 1_000;
  return work().then(identity).then(identity).then(identity).then(identity);
};

let opossum: CircuitBreaker | undefined;
const contenders: Record<string, () => Call> = {
  'bare call': () => work,
  'floor: a clock read + 4 × .then around the call': () => floorOfFourLayers,
  'switchyard timeout+retry+breaker+bulkhead': () => switchyard(true),
  'cockatiel wrap(timeout, retry, breaker, bulkhead)': () => cockatielWrap(true),
  'opossum (timeout + breaker + capacity; no retry)': () => {
    opossum = new CircuitBreaker(work, {
      timeout: 1_000,
      capacity: 200,
      errorThresholdPercentage: 50,
      resetTimeout: 10_000,
    });
    const breaker = opossum;
    return () => breaker.fire();
  },
  'switchyard, the work takes the signal': () => switchyard(true, workTakingSignal),
  'cockatiel, the work takes the signal': () => cockatielWrap(true, workTakingContext),
  'switchyard retry+breaker+bulkhead (no timeout)': () => switchyard(false),
  'cockatiel wrap(retry, breaker, bulkhead) (no timeout)': () => cockatielWrap(false),
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const name = process.argv[2] ?? '';
  const make = contenders[name];
  if (make === undefined) {
    process.stderr.write(
      `unknown contender "${name}"; one of: ${Object.keys(contenders).join(', ')}\n`,
    );
    process.exit(2);
  }
  const call = make();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    // CPU time (user + system) of this process, not wall time: the loop never waits, so the two
    // agree on an idle machine, and on a shared one CPU time leaves out the waits for a core.
    const started = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) await call();
    const { user, system } = process.cpuUsage(started);
    const ns = ((user + system) * 1e3) / CALLS;
    if (round >= WARMUP) best = Math.min(best, ns);
  }
  opossum?.shutdown();
  void deadlineSink;
  process.stdout.write(`${JSON.stringify({ contender: name, nsPerCall: best })}\n`);
}

export const names = Object.keys(contenders);
