#!/usr/bin/env node
// The switchyard command. Its subcommands (fetch, demo, run, advise, report) arrive with cli/;
// until then it answers --version and --help, and refuses the rest with exit code 2.
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const [command] = process.argv.slice(2);

if (command === '--version' || command === '-v') {
  process.stdout.write(`${version}\n`);
} else if (
  command === undefined ||
  command === '--help' ||
  command === '-h' ||
  command === 'help'
) {
  process.stdout.write(
    `switchyard ${version}\n\nUsage: switchyard <command>\n\nThe commands (fetch, demo, run, advise, report) are not built yet; the library is.\n`,
  );
} else {
  process.stderr.write(`switchyard: unknown command "${command}"; run switchyard --help\n`);
  process.exitCode = 2;
}
