// PostgreSQL behind the engine seam: the providers (url, local, embedded, container) make a
// ThrowawayDatabase; the server wraps it for the walk, and a session is the gate's own `pg`
// connection to one database, with incremental snapshots (tracker.ts).
import pg from 'pg';
import type { DatabaseTarget } from '../../alembic/tree.js';
import type { LockObservation } from '../../alembic/worker-client.js';
import type { DatabaseEngine, EngineSession, ProviderAttempt, ProvisionRequest, RowSession, ThrowawayServer } from '../engine.js';
import { clientConfig, quoteIdent, withClient } from './client.js';
import { provisionDatabase, type ProviderName } from './factory.js';
import { fingerprint } from './fingerprint.js';
import { postgresqlHint } from './hints.js';
import type { ThrowawayDatabase } from './provider.js';
import { readSeedTables, seedTables, USER_TABLES } from './seed.js';
import { SchemaTracker } from './tracker.js';
import { targetDatabases } from '../../engine/target.js';
import { createTarget, gateTarget } from './target.js';

const UNDEFINED_TABLE = '42P01';

class PgSession implements EngineSession {
  private constructor(
    private readonly client: pg.Client,
    private readonly tracker: SchemaTracker,
  ) {}

  static async open(db: ThrowawayDatabase, database: string, incremental: boolean): Promise<PgSession> {
    const client = new pg.Client({ ...db.connection, database });
    client.on('error', () => {}); // a terminated connection is handled where it is used
    await client.connect();
    try {
      return new PgSession(client, await SchemaTracker.attach(client, { incremental }));
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }

  get incremental(): boolean {
    return this.tracker.incremental;
  }
  read(options?: { whole?: boolean }) {
    return this.tracker.read(options);
  }
  markStale(): void {
    this.tracker.markStale();
  }
  verify(): Promise<boolean> {
    return this.tracker.verify();
  }

  async versions(table: { schema: string | null; name: string } | null): Promise<string[] | null> {
    const vt = table ?? { schema: null, name: 'alembic_version' };
    const qualified = `${vt.schema ? `${quoteIdent(vt.schema)}.` : ''}${quoteIdent(vt.name)}`;
    try {
      const r = await this.client.query<{ v: string }>(`SELECT version_num AS v FROM ${qualified}`);
      return r.rows.map((x) => x.v).sort();
    } catch (err) {
      // The version table env.py configured is not there: nothing is stamped (nothing was
      // committed). Otherwise a custom version table: rebuild rather than guess.
      if (table && (err as { code?: string }).code === UNDEFINED_TABLE) return [];
      return null;
    }
  }

  async tables(vt: { schema: string | null; name: string }): Promise<LockObservation['tables']> {
    return (
      await this.client.query<{ oid: number; filenode: number; name: string; database: string }>(
        `SELECT c.oid::int AS oid, c.relfilenode::int AS filenode, current_database() AS database,
                CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE ${USER_TABLES} AND NOT (c.relname = $1 AND n.nspname = $2)`,
        [vt.name, vt.schema ?? 'public'],
      )
    ).rows;
  }

  async roles(): Promise<Set<string> | null> {
    try {
      return new Set((await this.client.query<{ r: string }>('SELECT rolname AS r FROM pg_roles')).rows.map((x) => x.r));
    } catch {
      return null; // the connection is gone: the step's own failure says why
    }
  }

  async dropRole(role: string, drop: boolean): Promise<void> {
    await this.client.query(`DROP OWNED BY ${quoteIdent(role)}${drop ? `; DROP ROLE ${quoteIdent(role)}` : ''}`).catch(() => {});
  }

  async endOtherSessions(): Promise<void> {
    await this.client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()').catch(() => {});
  }

  async close(): Promise<void> {
    await this.tracker.detach();
    await this.client.end().catch(() => {});
  }
}

class PgRowSession implements RowSession {
  constructor(private readonly client: pg.Client) {}
  async run(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  async seed(rows: number, seed: number, versionTable: { schema: string | null; name: string } | null) {
    return seedTables(this.client, await readSeedTables(this.client, versionTable), rows, seed);
  }
  fingerprint(versionTable: { schema: string | null; name: string } | null) {
    return fingerprint(this.client, versionTable);
  }
  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}

class PgServer implements ThrowawayServer {
  readonly provider: string;
  readonly serverVersion: string;
  readonly defaultSchema = 'public';
  constructor(
    readonly engine: DatabaseEngine,
    private readonly db: ThrowawayDatabase,
  ) {
    this.provider = db.provider;
    this.serverVersion = db.serverVersion;
  }
  useMigrationRole(mode: 'unprivileged' | 'superuser') {
    return this.db.useMigrationRole(mode);
  }
  gateTarget(sections: string[] | null) {
    return gateTarget(this.db, sections);
  }
  createTarget(like: DatabaseTarget, template?: DatabaseTarget) {
    return createTarget(this.db, like, template);
  }
  async dropTarget(target: DatabaseTarget): Promise<void> {
    await Promise.all(targetDatabases(target).map((d) => (d.database === this.db.connection.database ? undefined : this.db.dropDatabase(d.database).catch(() => {}))));
  }
  async dropDatabase(database: string): Promise<void> {
    await this.db.dropDatabase(database);
  }
  session(database: string, options: { incremental: boolean }): Promise<EngineSession> {
    return PgSession.open(this.db, database, options.incremental);
  }
  readonly rows = {
    open: async (database: string): Promise<RowSession> => {
      const c = new pg.Client(clientConfig({ ...this.db.connection, database }));
      c.on('error', () => {});
      await c.connect();
      return new PgRowSession(c);
    },
  };
  async loadSql(target: DatabaseTarget, sql: string): Promise<void> {
    // As the project's migrations run (the migration role owns what the dump creates).
    const client = new pg.Client(clientConfig({ ...this.db.connection, ...this.db.projectAccess, database: target.allowed.database }));
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end().catch(() => {});
    }
  }
  async roles(): Promise<Set<string> | null> {
    return withClient(this.db.connection, async (c) => new Set((await c.query<{ r: string }>('SELECT rolname AS r FROM pg_roles')).rows.map((x) => x.r))).catch(() => null);
  }
  async dropRoles(created: string[], databases: string[]): Promise<void> {
    // What they own in every database (multidb: one per section), then, from the last, the roles.
    for (const [i, database] of databases.entries()) {
      await withClient({ ...this.db.connection, database }, async (c) => {
        for (const role of created) if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount) await c.query(`DROP OWNED BY ${quoteIdent(role)}`);
        if (i === databases.length - 1) for (const role of created) await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
      });
    }
  }
  adoptRoles(names: Iterable<string>): void {
    this.db.adoptRoles(names);
  }
  ownRoles(): string[] {
    return this.db.ownRoles();
  }
  dispose(): Promise<void> {
    return this.db.dispose();
  }
}

export const postgresqlEngine = {
  id: 'postgresql',
  name: 'PostgreSQL',
  dialects: ['postgresql', 'postgres'],
  capabilities: {
    transactionalDdl: true,
    incrementalSnapshots: true,
    lockIntrospection: true,
    rowFingerprints: true,
    compat: true,
    roles: true,
    sqlBootstrap: true,
    tracedSql: false,
    implicitFill: false,
  },
  hint: postgresqlHint,
  async provision(request: ProvisionRequest): Promise<{ server: ThrowawayServer; attempts: ProviderAttempt[] }> {
    const { db, attempts } = await provisionDatabase({
      provider: request.provider as 'auto' | ProviderName,
      ...(request.databaseUrl ? { databaseUrl: request.databaseUrl } : {}),
      ...(request.postgresVersion ? { postgresVersion: request.postgresVersion } : {}),
    });
    return { server: new PgServer(postgresqlEngine, db), attempts };
  },
} as const satisfies DatabaseEngine;
