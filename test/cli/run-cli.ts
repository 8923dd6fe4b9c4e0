// Runs one CLI command module the way bin/switchyard.js runs the CLI (the first SIGINT/SIGTERM
// aborts the command's signal), until main.ts dispatches to it:
//   node --import tsx test/cli/run-cli.ts <fetch|demo|run|report> [args…]
const [command, ...argv] = process.argv.slice(2);
const cli = await import(`../../src/cli/${command}.ts`);
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
