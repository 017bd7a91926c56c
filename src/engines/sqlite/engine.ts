// SQLite behind the engine seam. A "server" is a temp dir of the gate's; every database is a file
// in it (one per multidb section in a target), and a copy is a file copy. The project's own
// database file (sqlite:///app.db) is never opened: the worker sends every sqlite3 connection the
// project's code makes to the twin (alembic_gate_worker, guard). Schemas are read by the gate's
// inspector (inspect.py, stdlib only, read-only opens), never through the project's code.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseTarget } from '../../alembic/tree.js';
import { targetDatabases } from '../../engine/target.js';
import type { Snapshot } from '../../snapshot/model.js';
import { WholeSnapshotSession } from '../whole-snapshot.js';
import { registerCleanup } from '../../util/cleanup.js';
import { watchOver } from '../../util/sentinel.js';
import type { DatabaseEngine, EngineSession, ProviderAttempt, ProvisionRequest, ThrowawayServer } from '../engine.js';
import { ProvisionError } from '../engine.js';
import { SqliteInspector } from './inspector.js';

export const SQLITE_ID = 'sqlite';

/** SQLAlchemy's URL of a file (an absolute path: four slashes). */
export const fileUrl = (path: string): string => `sqlite:///${path}`;

function fileTarget(path: string): DatabaseTarget {
  return {
    engine: SQLITE_ID,
    url: fileUrl(path),
    plainUrl: fileUrl(path),
    twin: { host: '', port: 0, user: '', database: path },
    marker: '',
    aliases: [],
    allowed: { host: '', port: 0, database: path },
  };
}

function shaped(parts: { section?: string; path: string }[]): DatabaseTarget {
  const [first, ...rest] = parts;
  const one = fileTarget(first!.path);
  if (!first!.section) return one;
  return { ...one, section: first!.section, others: rest.map((p) => ({ section: p.section!, target: fileTarget(p.path) })) };
}

const SIDECARS = ['', '-wal', '-shm', '-journal'];

class SqliteSession extends WholeSnapshotSession {
  constructor(
    private readonly inspector: SqliteInspector,
    private readonly path: string,
  ) {
    super();
  }
  protected async snapshot(): Promise<Snapshot> {
    return (await this.inspector.request('snapshot', { path: this.path })) as Snapshot;
  }
  async versions(table: { schema: string | null; name: string } | null): Promise<string[] | null> {
    try {
      const rows = (await this.inspector.request('versions', { path: this.path, versionTable: table?.name ?? 'alembic_version' })) as string[] | null;
      // A configured version table that is not there: nothing was committed.
      return rows ?? (table ? [] : null);
    } catch {
      return null;
    }
  }
  async close(): Promise<void> {}
}

class SqliteServer implements ThrowawayServer {
  readonly provider = 'file';
  readonly defaultSchema = 'main';
  private next = 1;
  private readonly files = new Set<string>();
  private disposed: Promise<void> | undefined;
  private readonly unregister: () => void;
  private readonly watchdog;

  constructor(
    readonly engine: DatabaseEngine,
    readonly serverVersion: string,
    private readonly dir: string,
    private readonly inspector: SqliteInspector,
  ) {
    this.watchdog = watchOver({ dirs: [dir], ...(inspector.pid ? { pids: [{ pid: inspector.pid, signal: 'SIGKILL' as const }] } : {}) });
    this.unregister = registerCleanup(() => this.dispose(), {
      onExitSync: () => {
        inspector.kill();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  }

  private newFile(): string {
    const path = join(this.dir, `db${this.next++}.sqlite`);
    this.files.add(path);
    return path;
  }

  async useMigrationRole(): Promise<string[]> {
    return []; // a file has no users: the project's code opens it as the gate's own process does
  }

  async gateTarget(sections: string[] | null): Promise<DatabaseTarget> {
    if (!sections || sections.length === 0) return shaped([{ path: this.newFile() }]);
    return shaped(sections.map((section) => ({ section, path: this.newFile() })));
  }

  async createTarget(like: DatabaseTarget, template?: DatabaseTarget): Promise<DatabaseTarget> {
    const from = template ? targetDatabases(template) : [];
    const parts = targetDatabases(like).map((part) => {
      const path = this.newFile();
      const source = from.find((f) => f.section === part.section)?.database;
      if (source) for (const suffix of SIDECARS) if (existsSync(source + suffix)) copyFileSync(source + suffix, path + suffix);
      return { ...(part.section ? { section: part.section } : {}), path };
    });
    return shaped(parts);
  }

  async dropTarget(target: DatabaseTarget): Promise<void> {
    for (const { database } of targetDatabases(target)) await this.dropDatabase(database);
  }

  async dropDatabase(database: string): Promise<void> {
    if (!this.files.has(database)) throw new Error(`refusing to remove ${database}: it was not created by this run`);
    for (const suffix of SIDECARS) rmSync(database + suffix, { force: true });
    this.files.delete(database);
  }

  async session(database: string): Promise<EngineSession> {
    return new SqliteSession(this.inspector, database);
  }

  async roles(): Promise<Set<string> | null> {
    return null;
  }
  async dropRoles(): Promise<void> {}
  adoptRoles(): void {}
  ownRoles(): string[] {
    return [];
  }

  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      await this.inspector.close();
      rmSync(this.dir, { recursive: true, force: true });
      this.watchdog.remove();
      this.unregister();
    })();
    return this.disposed;
  }
}

/** What SQLite cannot do outside batch mode, and what to write instead. */
function sqliteHint(message: string): string | null {
  const batch =
    'SQLite cannot alter a column or a constraint in place: write the change inside `with op.batch_alter_table("<table>") as batch_op:` ' +
    '(Alembic copies the table, applies it and renames the copy back), and set render_as_batch=True in env.py\'s context.configure() so that autogenerate writes it so.';
  if (/near "ALTER": syntax error|No support for ALTER of constraints in SQLite dialect|near "(?:DROP|CONSTRAINT|TYPE|SET)": syntax error/.test(message)) return batch;
  if (/Cannot add a NOT NULL column with default value NULL/.test(message)) {
    return 'SQLite adds a column to existing rows only with a default: give it a server_default, or add it nullable and tighten it with op.batch_alter_table(...).alter_column(nullable=False) after a backfill.';
  }
  return null;
}

export const sqliteEngine = {
  id: SQLITE_ID,
  name: 'SQLite',
  dialects: ['sqlite'],
  capabilities: {
    transactionalDdl: false, // the sqlite3 driver runs DDL outside a transaction; Alembic's SQLite impl says so
    incrementalSnapshots: false,
    lockIntrospection: false,
    rowFingerprints: false,
    compat: false,
    roles: false,
    sqlBootstrap: false,
    tracedSql: true,
    implicitFill: false,
  },
  hint: sqliteHint,
  async provision(request: ProvisionRequest): Promise<{ server: ThrowawayServer; attempts: ProviderAttempt[] }> {
    // A workflow written for a server (--database-url, --provider local) may gate a SQLite
    // project too: its throwaway databases are files whatever was asked for, and the report says so.
    const attempts: ProviderAttempt[] = [];
    const why = "the project runs on SQLite, whose throwaway databases are files in the gate's temp dir";
    if (request.databaseUrl) attempts.push({ provider: 'url', error: `${why} (--database-url is for PostgreSQL projects)` });
    else if (request.provider !== 'auto' && request.provider !== 'file') attempts.push({ provider: request.provider, error: why });
    const dir = mkdtempSync(join(request.scratchDir ?? tmpdir(), 'alembic-gate-sqlite-'));
    let inspector: SqliteInspector;
    try {
      inspector = await SqliteInspector.start(request.python ?? 'python3', request.passEnv ?? []);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw new ProvisionError(`the SQLite inspector did not start: ${(err as Error).message}`, []);
    }
    return { server: new SqliteServer(sqliteEngine, inspector.version, dir, inspector), attempts };
  },
} as const satisfies DatabaseEngine;
