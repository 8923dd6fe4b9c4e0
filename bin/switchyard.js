#!/usr/bin/env node
// The switchyard command. It runs the built CLI (dist/cli/main.js) when there is one, and
// otherwise the TypeScript source through tsx (a fresh clone, no build), registered with tsx's
// documented API. --version answers from package.json alone, so it works before either.
import { existsSync, readFileSync } from 'node:fs';

const argv = process.argv.slice(2);

if (argv[0] === '--version' || argv[0] === '-v') {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const built = new URL('../dist/cli/main.js', import.meta.url);
  let cli;
  if (existsSync(built)) {
    cli = await import(built.href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    // Worker threads and child processes (the pools, advise) take their loader from execArgv:
    // give them the same tsx the way `node --import tsx` would, by absolute URL so that it
    // resolves from any working directory.
    process.execArgv.push('--import', import.meta.resolve('tsx'));
    cli = await import(new URL('../src/cli/main.ts', import.meta.url).href);
  }
  const controller = new AbortController();
  const interrupt = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    process.exitCode = await cli.main(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      cwd: process.cwd(),
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
