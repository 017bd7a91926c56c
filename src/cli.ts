// `alembic-gate check`: the gate on a local checkout, the working tree against a base ref.
// Exit status: 0 pass, 1 the gate failed, 2 it could not run.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runGate } from './engine/gate.js';
import { DEFAULT_SEED_ROWS, FOREIGN_CONNECTIONS, MIGRATION_ROLES, parseSeedRows, type GateOptions, type ProgressEvent } from './engine/options.js';
import { GitRepo } from './git/git.js';
import { badVariableName, secretLookingValues } from './alembic/worker-env.js';
import { renderMarkdown } from './report/markdown.js';
import { renderText } from './report/text.js';
import { redactDeep, redactText, secretList } from './report/redact.js';
import { escapeLog, escapeLogLines, neutralizeCommandLines } from './report/escape.js';
import { CHECK_IDS, type CheckId, type Report } from './report/types.js';
import { internalErrorText, UserError } from './util/errors.js';
import { VERSION } from './version.js';

const USAGE = `Usage: alembic-gate check [options]

Runs the migration gate: applies the base ref's migrations, then the working tree's new ones,
round-trips each new revision, compares the models with the schema, checks the revision graph.

Options:
  --base <ref>            base git ref or sha (default: the upstream default branch, else main)
  --config <path>         alembic.ini or pyproject.toml (default: ./alembic.ini, else
                          pyproject.toml's [tool.alembic], else Flask-Migrate's migrations/alembic.ini)
  --flask-app <app>       Flask-Migrate: the app to build, as FLASK_APP takes it (default:
                          $FLASK_APP, else app.py / wsgi.py or their create_app())
  --python <cmd>          Python with the project's dependencies (default: $ALEMBIC_GATE_PYTHON,
                          else python3); may be a prefix such as "poetry run python"
  --database-url <url>    use this PostgreSQL server: a fresh database is created and dropped
  --provider <name>       auto | url | local | embedded | container (default auto)
  --postgres-version <n>  PostgreSQL major version for the local/container providers
  --roundtrip <scope>     new (default) | all | none
  --allow-irreversible    a revision with no downgrade(), or one that raises on purpose, is a
                          notice, not a roundtrip failure
  --bootstrap <how>       histories whose first revision expects existing tables: models (the
                          base's target_metadata, stamped at its heads) or path/to/schema.sql
  --seed-rows <n>         data: synthetic rows per table at the base state (default 5; 0: none)
  --seed-sql <file>       data: a SQL file of your own rows, loaded at the base state
  --format <fmt>          text | markdown | json (default: text on a terminal, else json)
  --output <file>         also write the JSON report to this file
  --fail-on <ids>         comma-separated checks that fail the gate, or all, or none
                          (default: all: ${CHECK_IDS.join(',')}); a gate that could not
                          run (env.py that cannot run included) always exits 2
  --step-timeout <sec>    stop an Alembic step that runs longer (default 600)
  --url-env <NAME>        also put the database URL in this environment variable (repeatable;
                          DATABASE_URL always gets it)
  --foreign-connections <mode>  redirect (default): every database env.py, the models or a
                          migration connects to lands on a throwaway twin; refuse: fail instead
  --migration-role <mode> unprivileged (default): the project's code connects as a role made
                          for the run, owner of its databases, no superuser; superuser: as the
                          server's own user (a warning in the report)
  --pass-env <NAME>       give the project's Python this environment variable although its name
                          looks like a secret (TOKEN, SECRET, PASSWORD, KEY...) or the runner's
                          (INPUT_*, ACTIONS_*, GITHUB_TOKEN...); repeatable
  --head <ref>            check this commit instead of the working tree
  -h, --help              show this help
  --version               print the version

Exit status: 0 pass, 1 the gate failed, 2 it could not run.`;

const PROVIDERS = ['auto', 'url', 'local', 'embedded', 'container'] as const;
const SCOPES = ['new', 'all', 'none'] as const;
const FORMATS = ['text', 'markdown', 'json'] as const;

function seedRowsOption(value: string): number {
  try {
    return parseSeedRows(value, '--seed-rows');
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UserError(`--${name} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        base: { type: 'string' },
        config: { type: 'string' },
        python: { type: 'string' },
        'database-url': { type: 'string' },
        provider: { type: 'string' },
        'postgres-version': { type: 'string' },
        roundtrip: { type: 'string' },
        'flask-app': { type: 'string' },
        'allow-irreversible': { type: 'boolean' },
        bootstrap: { type: 'string' },
        'seed-rows': { type: 'string' },
        'seed-sql': { type: 'string' },
        format: { type: 'string' },
        output: { type: 'string' },
        'fail-on': { type: 'string' },
        'step-timeout': { type: 'string' },
        'url-env': { type: 'string', multiple: true },
        'foreign-connections': { type: 'string' },
        'migration-role': { type: 'string' },
        'pass-env': { type: 'string', multiple: true },
        head: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
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

  let format: (typeof FORMATS)[number];
  let options: GateOptions;
  try {
    format = oneOf('format', (values.format as string) ?? (process.stdout.isTTY ? 'text' : 'json'), FORMATS);
    const cwd = process.cwd();
    const timeout = values['step-timeout'] === undefined ? 600 : Number(values['step-timeout']);
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UserError(`--step-timeout takes a number of seconds, not "${values['step-timeout']}"`);
    const failOn = values['fail-on'] === undefined ? CHECK_IDS : parseFailOnFlag(values['fail-on'] as string);
    const provider = oneOf('provider', (values.provider as string) ?? 'auto', PROVIDERS);
    const databaseUrl = values['database-url'] as string | undefined;
    if (provider === 'url' && !databaseUrl) throw new UserError('--provider url needs --database-url postgresql://user@host:port/db');
    let base = values.base as string | undefined;
    if (!base) {
      base = await (await GitRepo.open(cwd)).defaultBase();
    }
    const urlEnv = (values['url-env'] as string[] | undefined) ?? [];
    for (const n of urlEnv) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new UserError(`--url-env: "${n}" is not an environment variable name`);
    const passEnv = (values['pass-env'] as string[] | undefined) ?? [];
    const badPass = badVariableName(passEnv);
    if (badPass !== undefined) throw new UserError(`--pass-env: "${badPass}" is not an environment variable name (pass one name per --pass-env)`);
    options = {
      repoRoot: cwd,
      workingDirectory: cwd,
      alembicConfig: (values.config as string) ?? 'alembic.ini',
      base,
      head: values.head as string | undefined,
      python: (values.python as string) ?? process.env.ALEMBIC_GATE_PYTHON ?? 'python3',
      provider,
      databaseUrl,
      postgresVersion: values['postgres-version'] as string | undefined,
      roundtrip: oneOf('roundtrip', (values.roundtrip as string) ?? 'new', SCOPES),
      failOn: failOn as CheckId[],
      stepTimeoutMs: timeout * 1000,
      urlEnvVars: urlEnv,
      foreignConnections: oneOf('foreign-connections', (values['foreign-connections'] as string) ?? 'redirect', FOREIGN_CONNECTIONS),
      migrationRole: oneOf('migration-role', (values['migration-role'] as string) ?? 'unprivileged', MIGRATION_ROLES),
      passEnv,
      flaskApp: values['flask-app'] as string | undefined,
      allowIrreversible: Boolean(values['allow-irreversible']),
      bootstrap: values.bootstrap as string | undefined,
      seedRows: values['seed-rows'] === undefined ? DEFAULT_SEED_ROWS : seedRowsOption(values['seed-rows'] as string),
      seedSql: values['seed-sql'] as string | undefined,
    };
  } catch (err) {
    process.stderr.write(`alembic-gate: ${(err as Error).message}\n`);
    return 2;
  }

  const progress = process.stderr.isTTY ? (e: ProgressEvent) => process.stderr.write(`\r\x1b[2K${e.index ? `[${e.index}/${e.total}] ` : ''}${escapeLog(e.message)}`) : () => {};
  const secrets = secretList({ urls: [options.databaseUrl], guessed: secretLookingValues(process.env) });
  const report = redactDeep(await runGate(options, (e) => progress({ ...e, message: redactText(e.message, secrets) })), secrets);
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');

  if (values.output) {
    try {
      writeFileSync(resolve(values.output as string), JSON.stringify(report, null, 2) + '\n');
    } catch (err) {
      process.stderr.write(`alembic-gate: cannot write the report to ${values.output}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  // JSON escapes control characters itself; text and markdown may carry multi-line repository text.
  const out = render(report, format);
  process.stdout.write(format === 'json' ? out : neutralizeCommandLines(out));
  if (report.status === 'error' && format === 'json') process.stderr.write(`alembic-gate: ${escapeLogLines(report.error ?? '')}\n`);
  return report.status === 'pass' ? 0 : report.status === 'fail' ? 1 : 2;
}

/** --fail-on: check ids separated by commas, or all / none; a list that names nothing is a mistake. */
function parseFailOnFlag(value: string): readonly string[] {
  const items = value.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  const usage = `check ids separated by commas (${CHECK_IDS.join(', ')}), or all, or none`;
  if (items.length === 0) throw new UserError(`--fail-on "${value}" names no check: pass ${usage}`);
  if (items.length === 1 && items[0] === 'all') return CHECK_IDS;
  if (items.length === 1 && items[0] === 'none') return [];
  for (const id of items) if (!(CHECK_IDS as readonly string[]).includes(id)) throw new UserError(`--fail-on: unknown check "${id}": pass ${usage}`);
  return [...new Set(items)];
}

function render(report: Report, format: 'text' | 'markdown' | 'json'): string {
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
