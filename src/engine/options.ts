// Everything the engine needs, resolved once by an entry point (CLI or action) and passed down.
// The engine never reads process.argv, environment inputs or @actions/core itself.
import type { MigrationRoleMode } from '../engines/engine.js';
import type { EngineId } from '../engines/index.js';
import type { CheckId } from '../report/types.js';

export type ProviderName = 'auto' | 'url' | 'local' | 'embedded' | 'container';
export type RoundtripScope = 'new' | 'all' | 'none';

export interface GateOptions {
  /** Repository root (git work tree) of the head tree. */
  repoRoot: string;
  /** Directory the alembic config path is relative to (the action's working-directory). */
  workingDirectory: string;
  /** Path of alembic.ini or pyproject.toml relative to workingDirectory (or absolute); the default
   * `alembic.ini`, when absent, is looked for as pyproject.toml or Flask-Migrate's migrations/alembic.ini. */
  alembicConfig: string;
  /** Flask-Migrate projects: the app to build, as FLASK_APP names it (default: as `flask` finds it). */
  flaskApp?: string;
  /** A revision whose downgrade is absent or raises on purpose is a notice, not a roundtrip failure. */
  allowIrreversible?: boolean;
  /** `models`, or the path (relative to workingDirectory) of a schema-only SQL dump: what the base's migrations start from. */
  bootstrap?: string;
  /** `data`: synthetic rows per table at the base state (0: none). */
  seedRows: number;
  /** `data`: a SQL file (relative to workingDirectory) of the team's own rows, loaded at the base state. */
  seedSql?: string;
  /** Base git ref or sha. */
  base: string;
  /** Head: the working tree (local use) or a commit-ish; undefined = working tree. */
  head?: string;
  /** Python command, possibly multi-word ("poetry run python"). */
  python: string;
  provider: ProviderName;
  /** The database engine to gate on: `auto` (from the project's sqlalchemy.url) or one of ENGINE_IDS. */
  engine: 'auto' | EngineId;
  databaseUrl?: string;
  /** PostgreSQL major version wanted by the container/embedded providers. */
  postgresVersion?: string;
  roundtrip: RoundtripScope;
  /** Checks whose failure fails the verdict. */
  failOn: readonly CheckId[];
  /** Kill a single Alembic step that runs longer than this. */
  stepTimeoutMs: number;
  /** Extra environment variable names that receive the throwaway database URL (DATABASE_URL always does). */
  urlEnvVars: string[];
  /**
   * redirect (default): every database the project's code connects to lands on a throwaway
   * twin; refuse: a connection to anything but the URLs the gate handed out fails the step.
   */
  foreignConnections: ForeignConnections;
  /**
   * unprivileged (default): the project's code connects as a role made for the run, owner of
   * its databases and no superuser; superuser: as the provider's own user, with a warning.
   */
  migrationRole: MigrationRoleMode;
  /** Environment variables the Python worker gets although the gate withholds them by default (secret-looking names, runner variables). */
  passEnv?: string[];
}

export { MIGRATION_ROLES, type MigrationRoleMode } from '../engines/engine.js';

export const FOREIGN_CONNECTIONS = ['redirect', 'refuse'] as const;
export type ForeignConnections = (typeof FOREIGN_CONNECTIONS)[number];

export interface ProgressEvent {
  phase: 'provision' | 'worker' | 'graph' | 'base' | 'upgrade' | 'roundtrip' | 'drift' | 'sql' | 'data' | 'report';
  message: string;
  /** For round trips: which revision of how many. */
  index?: number;
  total?: number;
}

export type ProgressSink = (event: ProgressEvent) => void;

export const DEFAULT_SEED_ROWS = 5;
export const MAX_SEED_ROWS = 100_000;
