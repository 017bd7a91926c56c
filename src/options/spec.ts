// The one vocabulary of the gate's options: every setting the command line (`alembic-gate check
// --flag`) and the action (action.yml's `inputs:`) take, in one table. Each row names the option
// on both sides, its kind, the values it allows, its default, its help and its validation
// messages; src/options/parse.ts turns raw strings from either side into typed options with the
// same checks and the same messages, naming the flag or the input as the user wrote it.
// test/unit/options.test.ts holds --help, action.yml and the README to this table.
import { ENGINE_IDS, ENGINES, engineOfUrl, type EngineId } from '../engines/index.js';
import { DEFAULT_SEED_ROWS, FOREIGN_CONNECTIONS, MAX_SEED_ROWS, MIGRATION_ROLES, type ForeignConnections, type MigrationRoleMode, type ProviderName, type RoundtripScope } from '../engine/options.js';
import { CHECK_IDS, type CheckId } from '../report/types.js';

export type OptionKind = 'string' | 'path' | 'enum' | 'int' | 'duration' | 'bool' | 'list';
export type Side = 'cli' | 'action';

export const PROVIDERS: readonly ProviderName[] = ['auto', 'url', 'local', 'embedded', 'container'];
export const ROUNDTRIP_SCOPES: readonly RoundtripScope[] = ['new', 'all', 'none'];
export const REPORT_FORMATS = ['text', 'markdown', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const COMMENT_MODES = ['always', 'on-failure', 'never'] as const;
export type CommentMode = (typeof COMMENT_MODES)[number];
export const ENGINE_CHOICES: readonly ('auto' | EngineId)[] = ['auto', ...ENGINE_IDS];

export interface OptionSpec {
  kind: OptionKind;
  /** On the command line: `--<flag>`, its argument's placeholder, its help (wrapped by --help). */
  cli?: {
    flag: string;
    arg?: string;
    /** A list given one item per occurrence (`--url-env A --url-env B`), not separated. */
    repeatable?: boolean;
    /** When the flag is absent, this environment variable (if set) before `default`. */
    env?: string;
    help: string;
  };
  /** In action.yml: the input's name and description; `yamlDefault` when action.yml's default is an expression. */
  input?: { name: string; description: string; yamlDefault?: string };
  /** The value when the option is not given, parsed like a given one (undefined: no value). */
  default?: string;
  /** enum: the values it takes; list: the items it takes (any when absent). */
  values?: readonly string[];
  /** list: the single words `all` (every value) and `none` (no value) stand for the whole list. */
  allNone?: boolean;
  /** list: items are compared lowercased. */
  lowercase?: boolean;
  /** int: the range; duration: the shortest, in ms. */
  min?: number;
  max?: number;
  /** string: the value must match; list: every item must. */
  pattern?: RegExp;
  /** string: a further check of the value. */
  accepts?: (value: string) => boolean;
  /** The validation message (what follows the flag or input name) for a value (a list: an item) this option refuses. */
  invalid?: (value: string) => string;
  /** list: the message for a list that names nothing. */
  empty?: (value: string) => string;
  /** duration: the message for a value below `min`. */
  tooShort?: (value: string) => string;
}

/** What the options are, parsed; the CLI gets the keys of its flags, the action those of its inputs. */
export interface OptionValues {
  base?: string;
  alembicConfig: string;
  flaskApp?: string;
  python: string;
  databaseUrl?: string;
  provider: ProviderName;
  engine: 'auto' | EngineId;
  postgresVersion?: string;
  roundtrip: RoundtripScope;
  allowIrreversible: boolean;
  bootstrap?: string;
  seedRows: number;
  seedSql?: string;
  failOn: CheckId[];
  stepTimeoutMs: number;
  urlEnvVars: string[];
  foreignConnections: ForeignConnections;
  migrationRole: MigrationRoleMode;
  passEnv: string[];
  // the command line only
  format?: ReportFormat;
  output?: string;
  head?: string;
  // the action only
  workingDirectory: string;
  comment: CommentMode;
  githubToken: string;
  allowPullRequestTarget: boolean;
}

export type CliOnlyKey = 'format' | 'output' | 'head';
export type ActionOnlyKey = 'workingDirectory' | 'comment' | 'githubToken' | 'allowPullRequestTarget';
export type CommonOptions = Omit<OptionValues, CliOnlyKey | ActionOnlyKey>;
export type CliOptions = Omit<OptionValues, ActionOnlyKey>;
export type ActionInputs = Omit<OptionValues, CliOnlyKey>;

const quote = (v: string): string => `'${v}'`;
const notOneOf = (values: readonly string[]) => (v: string) => `${quote(v)} is not one of ${values.join(', ')}.`;
const notBoolean = (v: string): string => `${quote(v)} is not a boolean; use true or false.`;
const notVariable = (v: string): string => `${quote(v)} is not an environment variable name.`;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const checkUsage = `use check ids from ${CHECK_IDS.join(', ')} (or 'all' / 'none').`;
const dialects = [...new Set(ENGINES.flatMap((e) => e.dialects))];

/**
 * Every option, in the order of --help. Keys are the fields of OptionValues (GateOptions's names
 * where the gate takes them).
 */
export const OPTIONS = {
  base: {
    kind: 'string',
    cli: { flag: 'base', arg: '<ref>', help: 'base git ref or sha (default: the upstream default branch, else main)' },
    input: {
      name: 'base',
      description:
        "Base git ref or sha to compare with. Empty: chosen from the event (pull_request: the PR's base commit; merge_group: the group's base; push: the commit before the push; otherwise the default branch).",
    },
  },
  alembicConfig: {
    kind: 'path',
    default: 'alembic.ini',
    cli: {
      flag: 'config',
      arg: '<path>',
      help: "alembic.ini or pyproject.toml (default: ./alembic.ini, else pyproject.toml's [tool.alembic], else Flask-Migrate's migrations/alembic.ini)",
    },
    input: {
      name: 'alembic-config',
      description:
        "Path of alembic.ini or pyproject.toml, relative to working-directory. When the default alembic.ini does not exist, pyproject.toml's [tool.alembic] (Alembic 1.16+) and then Flask-Migrate's migrations/alembic.ini are used.",
    },
  },
  flaskApp: {
    kind: 'string',
    cli: { flag: 'flask-app', arg: '<app>', help: 'Flask-Migrate: the app to build, as FLASK_APP takes it (default: $FLASK_APP, else app.py / wsgi.py or their create_app())' },
    input: {
      name: 'flask-app',
      description:
        'Flask-Migrate projects: the Flask app to build, as FLASK_APP names it (e.g. "myapp:create_app()"). Empty: FLASK_APP, else app.py / wsgi.py or their create_app(), as the flask command finds it.',
    },
  },
  python: {
    kind: 'string',
    default: 'python3',
    cli: {
      flag: 'python',
      arg: '<cmd>',
      env: 'ALEMBIC_GATE_PYTHON',
      help: 'Python with the project\'s dependencies (default: $ALEMBIC_GATE_PYTHON, else python3); may be a prefix such as "poetry run python"',
    },
    input: {
      name: 'python',
      description: 'Python interpreter, or a command prefix, that has the project\'s dependencies installed (e.g. "python3", "poetry run python", "uv run python").',
    },
  },
  databaseUrl: {
    kind: 'string',
    // Never quoted back: it may carry a password, and the action masks it only once the inputs are read.
    accepts: (v) => /^[^:/]+:\/\//.test(v) && engineOfUrl(v) !== undefined,
    invalid: () => `expected a database server URL such as <dialect>://user:password@host:port/database, the dialect one of ${dialects.join(', ')}.`,
    cli: { flag: 'database-url', arg: '<url>', help: 'use this server: a fresh database is created on it and dropped after; no other database on it is touched' },
    input: {
      name: 'database-url',
      description:
        'A server of the project\'s engine to use (postgresql://user:password@host:port/db, mysql://user:password@host:port/), e.g. a `services:` container. A fresh database is created on it and dropped afterwards; no other database is touched. Empty: a throwaway server is started (see provider). SQLite projects need none.',
    },
  },
  provider: {
    kind: 'enum',
    values: PROVIDERS,
    default: 'auto',
    invalid: notOneOf(PROVIDERS),
    cli: { flag: 'provider', arg: '<name>', help: `${PROVIDERS.join(' | ')} (default auto; with --database-url, auto is url)` },
    input: {
      name: 'provider',
      description: `Where the throwaway database comes from: ${PROVIDERS.join(' | ')}. auto uses database-url when given, else the first of local (the server binaries on the runner: initdb, mysqld), embedded (PostgreSQL only), container that works.`,
    },
  },
  engine: {
    kind: 'enum',
    values: ENGINE_CHOICES,
    default: 'auto',
    invalid: notOneOf(ENGINE_CHOICES),
    cli: { flag: 'engine', arg: '<name>', help: `the database engine to gate on: auto (from the project's sqlalchemy.url), or one of ${ENGINE_IDS.join(', ')} (default auto)` },
    input: { name: 'engine', description: `The database engine to gate on: auto (from the project's sqlalchemy.url), or one of ${ENGINE_IDS.join(', ')}.` },
  },
  postgresVersion: {
    kind: 'string',
    pattern: /^\d+(\.\d+)?$/,
    invalid: (v) => `${quote(v)} is not a PostgreSQL version; use a major version such as 16.`,
    cli: { flag: 'postgres-version', arg: '<n>', help: 'PostgreSQL major version for the local, embedded and container providers' },
    input: { name: 'postgres-version', description: "PostgreSQL major version for the local, embedded and container providers (empty = the provider's default)." },
  },
  roundtrip: {
    kind: 'enum',
    values: ROUNDTRIP_SCOPES,
    default: 'new',
    invalid: notOneOf(ROUNDTRIP_SCOPES),
    cli: { flag: 'roundtrip', arg: '<scope>', help: 'new (default) | all | none' },
    input: { name: 'roundtrip', description: 'Which revisions to round-trip (upgrade, downgrade, upgrade): new (those the change adds) | all | none.' },
  },
  allowIrreversible: {
    kind: 'bool',
    default: 'false',
    invalid: notBoolean,
    cli: { flag: 'allow-irreversible', help: 'a revision with no downgrade(), or one that raises on purpose, is a notice, not a roundtrip failure' },
    input: {
      name: 'allow-irreversible',
      description:
        'A revision without downgrade(), or whose downgrade raises (NotImplementedError, RuntimeError) before touching the database, is reported as a notice instead of failing roundtrip. For projects that never downgrade.',
    },
  },
  bootstrap: {
    kind: 'string',
    cli: {
      flag: 'bootstrap',
      arg: '<how>',
      help: "histories whose first revision expects existing tables: models (the base's target_metadata, stamped at its heads) or path/to/schema.sql",
    },
    input: {
      name: 'bootstrap',
      description:
        "For histories whose first revision expects tables that no revision creates: models (the base's target_metadata.create_all, stamped at the base's heads) or the path of a schema-only SQL dump (pg_dump --schema-only --no-owner --no-privileges; its version table, if it has rows, says where it stands). Empty: the base's migrations start from an empty database.",
    },
  },
  seedRows: {
    kind: 'int',
    default: String(DEFAULT_SEED_ROWS),
    min: 0,
    max: MAX_SEED_ROWS,
    invalid: (v) => `${quote(v)} is not a number of rows per table (0 to ${MAX_SEED_ROWS}; 0 turns the synthetic rows off).`,
    cli: { flag: 'seed-rows', arg: '<n>', help: `data: synthetic rows per table at the base state (default ${DEFAULT_SEED_ROWS}; 0: none)` },
    input: {
      name: 'seed-rows',
      description:
        'data check: synthetic rows generated per table of the base state before the new revisions run (types, NOT NULL, enums, unique columns and foreign keys respected). 0 turns them off.',
    },
  },
  seedSql: {
    kind: 'path',
    cli: { flag: 'seed-sql', arg: '<file>', help: 'data: a SQL file of your own rows, loaded at the base state' },
    input: {
      name: 'seed-sql',
      description: 'data check: path (relative to working-directory) of a SQL file with your own rows, loaded at the base state before the synthetic rows. Empty: none.',
    },
  },
  format: {
    kind: 'enum',
    values: REPORT_FORMATS,
    invalid: notOneOf(REPORT_FORMATS),
    cli: { flag: 'format', arg: '<fmt>', help: `${REPORT_FORMATS.join(' | ')} (default: text on a terminal, else json)` },
  },
  output: {
    kind: 'path',
    cli: { flag: 'output', arg: '<file>', help: 'also write the JSON report to this file' },
  },
  failOn: {
    kind: 'list',
    values: CHECK_IDS,
    allNone: true,
    lowercase: true,
    default: CHECK_IDS.join(','),
    invalid: (item) => `unknown check ${quote(item)}; ${checkUsage}`,
    empty: (v) => `${quote(v)} names no check; ${checkUsage}`,
    cli: {
      flag: 'fail-on',
      arg: '<ids>',
      help: `checks that fail the gate, separated by commas, or all, or none (default: all: ${CHECK_IDS.join(',')}); a gate that could not run (env.py that cannot run included) always exits 2`,
    },
    input: {
      name: 'fail-on',
      description: `Check ids whose failure fails the job (comma or space separated), or all / none. Checks: ${CHECK_IDS.join(', ')}. A gate that could not run always fails.`,
    },
  },
  stepTimeoutMs: {
    kind: 'duration',
    default: '10m',
    min: 1000,
    invalid: (v) => `${quote(v)} is not a duration; use seconds (600) or a unit (90s, 10m, 1h).`,
    tooShort: (v) => `${quote(v)} is too short; a step needs at least 1s.`,
    cli: { flag: 'step-timeout', arg: '<time>', help: 'stop an Alembic step that runs longer: seconds (600) or 90s, 10m, 1h (default 10m)' },
    input: { name: 'step-timeout', description: 'Kill a single Alembic step (upgrade, downgrade, ...) that runs longer than this; seconds or 90s / 10m / 1h.' },
  },
  urlEnvVars: {
    kind: 'list',
    pattern: ENV_NAME,
    invalid: notVariable,
    cli: { flag: 'url-env', arg: '<NAME>', repeatable: true, help: 'also put the database URL in this environment variable (repeatable; DATABASE_URL always gets it)' },
    input: {
      name: 'database-url-env',
      description:
        "Extra environment variable names (comma or newline separated) that receive the throwaway database's URL while env.py runs, for projects that do not read DATABASE_URL (which is always set).",
    },
  },
  foreignConnections: {
    kind: 'enum',
    values: FOREIGN_CONNECTIONS,
    default: 'redirect',
    invalid: notOneOf(FOREIGN_CONNECTIONS),
    cli: {
      flag: 'foreign-connections',
      arg: '<mode>',
      help: 'redirect (default): every database env.py, the models or a migration connects to lands on a throwaway twin; refuse: fail instead',
    },
    input: {
      name: 'foreign-connections',
      description:
        'redirect: every database env.py, the models or a migration connects to (a hard-coded production URL, settings read at import, engines built with creator=) lands on a throwaway twin, with a notice in the report. refuse: such a connection fails the run instead.',
    },
  },
  migrationRole: {
    kind: 'enum',
    values: MIGRATION_ROLES,
    default: 'unprivileged',
    invalid: notOneOf(MIGRATION_ROLES),
    cli: {
      flag: 'migration-role',
      arg: '<mode>',
      help: "unprivileged (default): the project's code connects as a role made for the run, owner of its databases, no superuser; superuser: as the server's own user (a warning in the report)",
    },
    input: {
      name: 'migration-role',
      description:
        "unprivileged: the project's code (env.py, the models, the migrations) connects as a role made for the run that owns its databases and may create trusted extensions but is no superuser, as on managed PostgreSQL. superuser: it connects as the server's own user, with a warning in the report.",
    },
  },
  passEnv: {
    kind: 'list',
    pattern: ENV_NAME,
    invalid: notVariable,
    cli: {
      flag: 'pass-env',
      arg: '<NAME>',
      repeatable: true,
      help: "give the project's Python this environment variable although its name looks like a secret (TOKEN, SECRET, PASSWORD, KEY...) or the runner's (INPUT_*, ACTIONS_*, GITHUB_TOKEN...); repeatable",
    },
    input: {
      name: 'pass-env',
      description:
        "Environment variables (comma or newline separated names) that the project's Python gets although alembic-gate withholds them by default: names that look like secrets (containing TOKEN, SECRET, PASSWORD, KEY, ...) and the runner's own (INPUT_*, ACTIONS_*, GITHUB_TOKEN, GITHUB_OUTPUT, GITHUB_ENV, ...). Every other variable of the job is passed.",
    },
  },
  head: {
    kind: 'string',
    cli: { flag: 'head', arg: '<ref>', help: 'check this commit instead of the working tree' },
  },
  workingDirectory: {
    kind: 'path',
    default: '.',
    input: { name: 'working-directory', description: 'Directory of the Alembic project; the alembic-config path is relative to it.' },
  },
  comment: {
    kind: 'enum',
    values: COMMENT_MODES,
    default: 'on-failure',
    invalid: notOneOf(COMMENT_MODES),
    input: {
      name: 'comment',
      description: 'Sticky pull-request comment: always | on-failure (post when failing; an earlier comment is updated even when passing, so it turns green) | never.',
    },
  },
  githubToken: {
    kind: 'string',
    default: '',
    input: { name: 'github-token', yamlDefault: '${{ github.token }}', description: 'Token for the comment (needs pull-requests write). Never logged.' },
  },
  allowPullRequestTarget: {
    kind: 'bool',
    default: 'false',
    invalid: notBoolean,
    input: {
      name: 'allow-pull-request-target',
      description:
        "Allow running on pull_request_target, where the PR's code would run with a write token and secrets. Off by default: alembic-gate refuses that event and explains why.",
    },
  },
} satisfies Record<keyof OptionValues, OptionSpec>;

export type OptionKey = keyof typeof OPTIONS;

/** The table's rows, each with its key. */
export const OPTION_LIST: readonly (OptionSpec & { key: OptionKey })[] = Object.entries(OPTIONS).map(([key, spec]) => ({ key: key as OptionKey, ...(spec as OptionSpec) }));

/** The option's name as a user of that side writes it: `--flag` or `Input 'name'`. */
export function optionLabel(spec: OptionSpec, side: Side): string {
  if (side === 'cli') return `--${spec.cli!.flag}`;
  return `Input '${spec.input!.name}'`;
}

/** The option named inside a sentence: `--flag` or `the 'name' input`. */
export function optionReference(spec: OptionSpec, side: Side): string {
  return side === 'cli' ? `--${spec.cli!.flag}` : `the '${spec.input!.name}' input`;
}
