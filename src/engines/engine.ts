// The seam between the gate and a database engine. The walk (src/engine/) knows a database only
// through these interfaces: an engine makes throwaway servers, a server makes databases (one per
// multidb section in a target), and a session is the gate's own connection to one database, the
// only way the walk reads a schema. Each engine lives in src/engines/<id>/; nothing outside its
// folder names it.
import type { DatabaseTarget } from '../alembic/tree.js';
import type { LockObservation } from '../alembic/worker-client.js';
import type { Fingerprint } from '../snapshot/rows.js';
import type { SchemaState } from '../snapshot/state.js';

/** What an engine can do; checks and steps that need more skip with the engine's name. */
export interface EngineCapabilities {
  /** DDL rolls back with its transaction (a failed revision leaves nothing behind). */
  transactionalDdl: boolean;
  /** Snapshots re-read only what DDL touched (event triggers). */
  incrementalSnapshots: boolean;
  /** The locks a statement takes can be observed (the `locks` check). */
  lockIntrospection: boolean;
  /** Synthetic rows and row fingerprints (the `data` check). */
  rowFingerprints: boolean;
  /** The base's models tried on the upgraded schema (the `compat` check). */
  compat: boolean;
  /** Server roles: migrations may create them, the project's code runs as one of its own. */
  roles: boolean;
  /** A schema dump can be loaded before the base's migrations (--bootstrap file.sql). */
  sqlBootstrap: boolean;
  /**
   * Alembic renders some revisions' SQL only against a live database (batch mode on SQLite
   * reflects the table it copies): the SQL preview then shows the statements the round trip ran.
   */
  tracedSql: boolean;
  /**
   * ALTER TABLE ... ADD COLUMN ... NOT NULL without a default fills the rows a table has with the
   * type's implicit default (MySQL's 0, '', the first ENUM value) instead of failing: the data
   * check names such columns from the schema alone, where it has no rows to try.
   */
  implicitFill: boolean;
}

export interface ProviderAttempt {
  provider: string;
  error: string;
}

export class ProvisionError extends Error {
  constructor(
    message: string,
    readonly attempts: ProviderAttempt[],
  ) {
    super(message);
    this.name = 'ProvisionError';
  }
}

export const MIGRATION_ROLES = ['unprivileged', 'superuser'] as const;
export type MigrationRoleMode = (typeof MIGRATION_ROLES)[number];

/** What a provider is asked for (resolved options; the engine ignores what it has no use for). */
export interface ProvisionRequest {
  provider: string;
  databaseUrl?: string;
  postgresVersion?: string;
  /** Where the engine may keep files for this run (the gate's temp dir). */
  scratchDir?: string;
  /** The project's Python (engines whose reader runs in Python). */
  python?: string;
  /** Variables passed to Python processes whatever their names (--pass-env). */
  passEnv?: readonly string[];
}

export interface ReadOptions {
  /** A whole read, whatever the session could do incrementally. */
  whole?: boolean;
}

/** The gate's own connection to one database of a target. */
export interface EngineSession {
  /** The schema now, without the version table `alembic_version` (see RoundTripper.snapshot). */
  read(options?: ReadOptions): Promise<SchemaState>;
  /** Reads incrementally (see capabilities.incrementalSnapshots). */
  readonly incremental: boolean;
  /** The next read is a whole one (a step wrote to the catalogs directly). */
  markStale(): void;
  /** The tracked state agrees with a whole read. */
  verify(): Promise<boolean>;
  /** The rows of the version table (null: the default one), sorted; null when it cannot be read. */
  versions(table: VersionTable): Promise<string[] | null>;
  /** The user tables now, for the locks check (engines with lock introspection). */
  tables(versionTable: { schema: string | null; name: string }): Promise<LockObservation['tables']>;
  /** Role names on the server, or null (engines without roles). */
  roles(): Promise<Set<string> | null>;
  /** Drops what a role owns in this database and, with `drop`, the role. */
  dropRole(role: string, drop: boolean): Promise<void>;
  /** Ends other sessions on this database (a worker's connection that outlived a kill). */
  endOtherSessions(): Promise<void>;
  close(): Promise<void>;
}

type VersionTable = { schema: string | null; name: string } | null;

/** The gate's own connection to a database with rows (the data check). */
export interface RowSession {
  /** Runs the team's own SQL (--seed-sql). */
  run(sql: string): Promise<void>;
  /** Fills every user table with `rows` synthetic rows (seeded), parents first. */
  seed(rows: number, seed: number, versionTable: VersionTable): Promise<{ filled: { table: string; rows: number }[]; notices: string[] }>;
  fingerprint(versionTable: VersionTable): Promise<Fingerprint>;
  close(): Promise<void>;
}

/** One throwaway server of an engine, and the databases made on it for this run. */
export interface ThrowawayServer {
  readonly engine: DatabaseEngine;
  /** Provider that made it: 'url' | 'local' | 'embedded' | 'container' | 'file'. */
  readonly provider: string;
  /** Server version string, e.g. "15.19" or "3.40.1". */
  readonly serverVersion: string;
  /** Makes the role the project's code connects as; returns notices for the report. */
  useMigrationRole(mode: MigrationRoleMode): Promise<string[]>;
  /** The run's first database, shaped for a project of these multidb sections (or one database). */
  gateTarget(sections: string[] | null): Promise<DatabaseTarget>;
  /** New databases shaped like `like`, empty or copies of `template`'s, section by section. */
  createTarget(like: DatabaseTarget, template?: DatabaseTarget): Promise<DatabaseTarget>;
  /** Drops a target's databases made by createTarget (never the gate's first). */
  dropTarget(target: DatabaseTarget): Promise<void>;
  /** Drops one database made by createTarget. */
  dropDatabase(database: string): Promise<void>;
  /** The schema objects live in unless named otherwise ("public", "main"): left out of names. */
  readonly defaultSchema: string;
  /** The gate's own session on one database of a target (`database` as in targetDatabases()). */
  session(database: string, options: { incremental: boolean }): Promise<EngineSession>;
  /** Rows in a database, for the data check (engines with row fingerprints). */
  readonly rows?: { open(database: string): Promise<RowSession> };
  /** Loads a schema dump into a target's database as the project's role (--bootstrap file.sql). */
  loadSql?(target: DatabaseTarget, sql: string): Promise<void>;
  /** Role names on the server, or null (no roles, or they could not be read). */
  roles(): Promise<Set<string> | null>;
  /** Drops roles with what they own in each of `databases` (the last is dropped from). */
  dropRoles(roles: string[], databases: string[]): Promise<void>;
  /** Roles the run's migrations created, dropped with the server (engines with roles). */
  adoptRoles(names: Iterable<string>): void;
  ownRoles(): string[];
  /** Drop databases, stop servers, remove files. Safe to call twice. */
  dispose(): Promise<void>;
}

export interface DatabaseEngine {
  /** The id in reports and options ("sqlite"). */
  readonly id: string;
  /** How readers know it ("SQLite"). */
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  /** The SQLAlchemy URL schemes of this engine's projects (the dialect before any "+driver"). */
  readonly dialects: readonly string[];
  /** Starts (or reaches) a server with a fresh database on it. */
  provision(request: ProvisionRequest): Promise<{ server: ThrowawayServer; attempts: ProviderAttempt[] }>;
  /** Why a revision's error happened on this engine, and what to do (null: nothing to add). */
  hint?(message: string, where: { label: string }): string | null;
}
