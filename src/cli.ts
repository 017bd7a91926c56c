// `alembic-gate check`: the gate on a local checkout, the working tree against a base ref.
// Exit status: 0 pass, 1 the gate failed, 2 it could not run.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runGate } from './engine/gate.js';
import type { GateOptions, ProgressEvent } from './engine/options.js';
import { GitRepo } from './git/git.js';
import { secretLookingValues } from './alembic/worker-env.js';
import { parseOptions, toGateOptions, type RawOptions } from './options/parse.js';
import type { ReportFormat } from './options/spec.js';
import { cliArgsConfig, cliUsage } from './options/usage.js';
import { renderMarkdown } from './report/markdown.js';
import { renderText } from './report/text.js';
import { redactDeep, redactText, secretList } from './report/redact.js';
import { escapeLog, escapeLogLines, neutralizeCommandLines } from './report/escape.js';
import type { Report } from './report/types.js';
import { internalErrorText } from './util/errors.js';
import { VERSION } from './version.js';

const USAGE = cliUsage();

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | (string | boolean)[] | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: cliArgsConfig(),
    }));
  } catch (err) {
    process.stderr.write(`alembic-gate: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    (values.help ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (positionals[0] !== 'check' || positionals.length > 1) {
    process.stderr.write(`alembic-gate: unknown command "${positionals.join(' ')}"\n\n${USAGE}\n`);
    return 2;
  }

  let format: ReportFormat;
  let options: GateOptions;
  let output: string | undefined;
  try {
    const cli = parseOptions('cli', values as RawOptions, process.env);
    format = cli.format ?? (process.stdout.isTTY ? 'text' : 'json');
    output = cli.output;
    const cwd = process.cwd();
    const base = cli.base ?? (await (await GitRepo.open(cwd)).defaultBase());
    options = toGateOptions(cli, { repoRoot: cwd, workingDirectory: cwd, base, head: cli.head });
  } catch (err) {
    process.stderr.write(`alembic-gate: ${(err as Error).message}\n`);
    return 2;
  }

  const progress = process.stderr.isTTY ? (e: ProgressEvent) => process.stderr.write(`\r\x1b[2K${e.index ? `[${e.index}/${e.total}] ` : ''}${escapeLog(e.message)}`) : () => {};
  const secrets = secretList({ urls: [options.databaseUrl], guessed: secretLookingValues(process.env) });
  const report = redactDeep(await runGate(options, (e) => progress({ ...e, message: redactText(e.message, secrets) })), secrets);
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');

  if (output) {
    try {
      writeFileSync(resolve(output), JSON.stringify(report, null, 2) + '\n');
    } catch (err) {
      process.stderr.write(`alembic-gate: cannot write the report to ${output}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  // JSON escapes control characters itself; text and markdown may carry multi-line repository text.
  const out = render(report, format);
  process.stdout.write(format === 'json' ? out : neutralizeCommandLines(out));
  if (report.status === 'error' && format === 'json') process.stderr.write(`alembic-gate: ${escapeLogLines(report.error ?? '')}\n`);
  return report.status === 'pass' ? 0 : report.status === 'fail' ? 1 : 2;
}

function render(report: Report, format: ReportFormat): string {
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  if (format === 'markdown') return renderMarkdown(report, {}) + '\n';
  return renderText(report, { color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR }) + '\n';
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`alembic-gate: ${escapeLogLines(internalErrorText(err))}\n`);
    process.exitCode = 2;
  },
);
