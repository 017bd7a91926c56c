// The action's inputs, read in one place into one typed, validated object (see action.yml).
// `readInputs()` is the only reader of `core.getInput`; `parseInputs()` is the pure validation
// behind it. A bad value fails with a message that names the input and the accepted values.
import * as core from '@actions/core';
import { CHECK_IDS, type CheckId } from '../report/types.js';
import { DEFAULT_SEED_ROWS, FOREIGN_CONNECTIONS, MIGRATION_ROLES, MAX_SEED_ROWS, parseSeedRows, type ForeignConnections, type MigrationRoleMode, type ProviderName, type RoundtripScope } from '../engine/options.js';
import { badVariableName } from '../alembic/worker-env.js';

export type CommentMode = 'always' | 'on-failure' | 'never';

export interface ActionInputs {
  workingDirectory: string;
  alembicConfig: string;
  python: string;
  databaseUrl?: string;
  /** Extra environment variable names that receive the throwaway database URL. */
  databaseUrlEnv: string[];
  foreignConnections: ForeignConnections;
  migrationRole: MigrationRoleMode;
  /** Environment variables the project's Python gets although their names look like secrets or the runner's. */
  passEnv: string[];
  provider: ProviderName;
  postgresVersion?: string;
  roundtrip: RoundtripScope;
  /** Explicit base ref or sha; undefined = chosen from the event. */
  base?: string;
  failOn: CheckId[];
  comment: CommentMode;
  githubToken: string;
  allowPullRequestTarget: boolean;
  stepTimeoutMs: number;
  /** Flask-Migrate: the app to build (FLASK_APP syntax); undefined = as `flask` finds it. */
  flaskApp?: string;
  allowIrreversible: boolean;
  /** `models` or a schema-only SQL dump's path; undefined = the base's migrations start from empty. */
  bootstrap?: string;
  /** `data`: synthetic rows per table (0: none). */
  seedRows: number;
  /** `data`: the team's own rows, a SQL file relative to working-directory. */
  seedSql?: string;
}

/** Raw input strings, as the runner passes them (empty string = not set). */
export type RawInputs = Record<
  | 'working-directory'
  | 'alembic-config'
  | 'python'
  | 'database-url'
  | 'database-url-env'
  | 'foreign-connections'
  | 'migration-role'
  | 'pass-env'
  | 'provider'
  | 'postgres-version'
  | 'roundtrip'
  | 'base'
  | 'fail-on'
  | 'comment'
  | 'github-token'
  | 'allow-pull-request-target'
  | 'step-timeout'
  | 'flask-app'
  | 'allow-irreversible'
  | 'bootstrap'
  | 'seed-rows'
  | 'seed-sql',
  string
>;

export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(`Input '${input}': ${message}`);
    this.name = 'InputError';
  }
}

/** Reads every input of action.yml. Each name appears here as a literal (test/unit/action-interface checks it). */
export function readInputs(): ActionInputs {
  return parseInputs({
    'working-directory': core.getInput('working-directory'),
    'alembic-config': core.getInput('alembic-config'),
    python: core.getInput('python'),
    'database-url': core.getInput('database-url'),
    'database-url-env': core.getInput('database-url-env'),
    'foreign-connections': core.getInput('foreign-connections'),
    'migration-role': core.getInput('migration-role'),
    'pass-env': core.getInput('pass-env'),
    provider: core.getInput('provider'),
    'postgres-version': core.getInput('postgres-version'),
    roundtrip: core.getInput('roundtrip'),
    base: core.getInput('base'),
    'fail-on': core.getInput('fail-on'),
    comment: core.getInput('comment'),
    'github-token': core.getInput('github-token'),
    'allow-pull-request-target': core.getInput('allow-pull-request-target'),
    'step-timeout': core.getInput('step-timeout'),
    'flask-app': core.getInput('flask-app'),
    'allow-irreversible': core.getInput('allow-irreversible'),
    bootstrap: core.getInput('bootstrap'),
    'seed-rows': core.getInput('seed-rows'),
    'seed-sql': core.getInput('seed-sql'),
  });
}

const PROVIDERS: readonly ProviderName[] = ['auto', 'url', 'local', 'embedded', 'container'];
const ROUNDTRIPS: readonly RoundtripScope[] = ['new', 'all', 'none'];
const COMMENT_MODES: readonly CommentMode[] = ['always', 'on-failure', 'never'];

export function parseInputs(raw: RawInputs): ActionInputs {
  const get = (name: keyof RawInputs): string => (raw[name] ?? '').trim();

  const databaseUrl = get('database-url') || undefined;
  if (databaseUrl && !/^postgres(ql)?(\+[a-z0-9_]+)?:\/\//i.test(databaseUrl)) {
    throw new InputError('database-url', 'expected a PostgreSQL URL such as postgresql://postgres:postgres@localhost:5432/postgres.');
  }
  let provider = oneOf('provider', get('provider') || 'auto', PROVIDERS);
  if (provider === 'url' && !databaseUrl) {
    throw new InputError('provider', "'url' needs the 'database-url' input (a server on which a throwaway database may be created).");
  }
  // A database URL given without a provider means: use that server.
  if (provider === 'auto' && databaseUrl) provider = 'url';

  const postgresVersion = get('postgres-version') || undefined;
  if (postgresVersion && !/^\d+(\.\d+)?$/.test(postgresVersion)) {
    throw new InputError('postgres-version', `'${postgresVersion}' is not a PostgreSQL version; use a major version such as 16.`);
  }

  const envNames = splitList(get('database-url-env'));
  for (const n of envNames) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new InputError('database-url-env', `'${n}' is not an environment variable name.`);
  }
  const passEnv = splitList(get('pass-env'));
  const badPass = badVariableName(passEnv);
  if (badPass !== undefined) throw new InputError('pass-env', `'${badPass}' is not an environment variable name; list names separated by commas or newlines.`);

  return {
    workingDirectory: get('working-directory') || '.',
    alembicConfig: get('alembic-config') || 'alembic.ini',
    python: get('python') || 'python3',
    databaseUrl,
    databaseUrlEnv: envNames,
    foreignConnections: oneOf('foreign-connections', get('foreign-connections') || 'redirect', FOREIGN_CONNECTIONS),
    migrationRole: oneOf('migration-role', get('migration-role') || 'unprivileged', MIGRATION_ROLES),
    passEnv,
    provider,
    postgresVersion,
    roundtrip: oneOf('roundtrip', get('roundtrip') || 'new', ROUNDTRIPS),
    base: get('base') || undefined,
    failOn: parseFailOn(get('fail-on')),
    comment: oneOf('comment', get('comment') || 'on-failure', COMMENT_MODES),
    githubToken: get('github-token'),
    allowPullRequestTarget: parseBoolean('allow-pull-request-target', get('allow-pull-request-target') || 'false'),
    stepTimeoutMs: parseDuration('step-timeout', get('step-timeout') || '10m'),
    flaskApp: get('flask-app') || undefined,
    allowIrreversible: parseBoolean('allow-irreversible', get('allow-irreversible') || 'false'),
    bootstrap: get('bootstrap') || undefined,
    seedRows: seedRowsInput(get('seed-rows')),
    seedSql: get('seed-sql') || undefined,
  };
}

function seedRowsInput(value: string): number {
  if (!value) return DEFAULT_SEED_ROWS;
  try {
    return parseSeedRows(value, 'seed-rows');
  } catch {
    throw new InputError('seed-rows', `'${value}' is not a number of rows per table (0 to ${MAX_SEED_ROWS}; 0 turns the synthetic rows off).`);
  }
}

function oneOf<T extends string>(input: string, value: string, allowed: readonly T[]): T {
  const v = value.toLowerCase();
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(input, `'${value}' is not one of ${allowed.join(', ')}.`);
}

function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Check ids separated by commas, spaces or newlines; `all` (the default) or `none`. */
export function parseFailOn(value: string): CheckId[] {
  const items = splitList(value.toLowerCase());
  if (items.length === 0 && value.trim() !== '') throw new InputError('fail-on', `'${value}' names no check; use check ids from ${CHECK_IDS.join(', ')} (or 'all' / 'none').`);
  if (items.length === 0 || (items.length === 1 && items[0] === 'all')) return [...CHECK_IDS];
  if (items.length === 1 && items[0] === 'none') return [];
  for (const item of items) {
    if (!(CHECK_IDS as readonly string[]).includes(item)) {
      throw new InputError('fail-on', `unknown check '${item}'; use check ids from ${CHECK_IDS.join(', ')} (or 'all' / 'none').`);
    }
  }
  return [...new Set(items)] as CheckId[];
}

/** YAML 1.2 core booleans, as @actions/core accepts them. */
export function parseBoolean(input: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new InputError(input, `'${value}' is not a boolean; use true or false.`);
}

/** Seconds ("600"), or a number with a unit: "90s", "10m", "1h". */
export function parseDuration(input: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/i.exec(value);
  if (!m) throw new InputError(input, `'${value}' is not a duration; use seconds (600) or a unit (90s, 10m, 1h).`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
  const ms = Math.round(n * factor);
  if (ms < 1000) throw new InputError(input, `'${value}' is too short; a step needs at least 1s.`);
  return ms;
}
