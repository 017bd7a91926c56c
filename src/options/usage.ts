// The command line's side of the options table: node's parseArgs configuration and --help.
import type { ParseArgsConfig } from 'node:util';
import { OPTION_LIST } from './spec.js';

const WIDTH = 100;
const HELP_COLUMN = 26;

/** parseArgs's `options`: one entry per flag of the table, plus --help and --version. */
export function cliArgsConfig(): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const spec of OPTION_LIST) {
    if (!spec.cli) continue;
    options[spec.cli.flag] = spec.kind === 'bool' ? { type: 'boolean' } : { type: 'string', ...(spec.cli.repeatable ? { multiple: true } : {}) };
  }
  options.help = { type: 'boolean', short: 'h' };
  options.version = { type: 'boolean' };
  return options;
}

/** `  --flag <arg>            help...`, the help wrapped under its column. */
export function helpEntry(flag: string, help: string): string {
  const head = `  ${flag}`;
  const lines: string[] = [];
  let line = head.length < HELP_COLUMN ? head.padEnd(HELP_COLUMN) : `${head}  `;
  let fresh = true;
  for (const word of help.split(/\s+/).filter(Boolean)) {
    if (!fresh && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = ' '.repeat(HELP_COLUMN);
      fresh = true;
    }
    line += fresh ? word : ` ${word}`;
    fresh = false;
  }
  lines.push(line);
  return lines.join('\n');
}

/** --help: generated from the table. */
export function cliUsage(): string {
  const entries = OPTION_LIST.filter((s) => s.cli).map((s) => helpEntry(`--${s.cli!.flag}${s.cli!.arg ? ` ${s.cli!.arg}` : ''}`, s.cli!.help));
  return `Usage: alembic-gate check [options]

Runs the migration gate: applies the base ref's migrations, then the working tree's new ones,
round-trips each new revision, compares the models with the schema, checks the revision graph.

Options:
${entries.join('\n')}
${helpEntry('-h, --help', 'show this help')}
${helpEntry('--version', 'print the version')}

Exit status: 0 pass, 1 the gate failed, 2 it could not run.`;
}
