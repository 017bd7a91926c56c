// One throwaway MySQL/MariaDB server for the walk, whichever provider made it: the databases
// made for this run (one per multidb section in a target), the migration user the project's
// code connects as, and the targets handed to the worker. It only ever drops what it made.
import { randomBytes } from 'node:crypto';
import type { DatabaseTarget } from '../../alembic/tree.js';
import { targetDatabases } from '../../engine/target.js';
import { watchOver, type SentinelHandle } from '../../util/sentinel.js';
import type { DatabaseEngine, EngineSession, MigrationRoleMode, ThrowawayServer } from '../engine.js';
import {
  account,
  dropDatabaseOn,
  dropUserOn,
  grantDatabase,
  identifiedBy,
  MYSQL_ID,
  mysqlUrl,
  quoteIdent,
  rows,
  text,
  uniqueDatabaseName,
  USER_HOSTS,
  withConnection,
  type Connection,
  type MysqlConnection,
  type ServerFacts,
} from './client.js';
import { dropList } from './leftovers.js';
import { SCHEMA } from './read.js';
import { MysqlSession } from './session.js';

/** Users made by useMigrationRole are named so. */
export const MIGRATION_USER_PREFIX = 'alembic_gate_m_';

// Access denied to create users or to grant (the --database-url user has too few rights).
const DENIED = new Set([1044, 1045, 1142, 1227, 1410]);

/** What a provider hands over. */
export interface MysqlBackend {
  provider: string;
  /** The gate's own connections (the local provider's socket). */
  admin: MysqlConnection;
  /** Where the project's code reaches the server. */
  project: { host: string; port: number; query?: string };
  /** The account the project's code uses when it gets no migration user of its own. */
  projectAdmin: { user: string; password?: string };
  facts: ServerFacts;
  /** The gate's first database, already created. */
  database: string;
  /** A server others use too (--database-url): dispose drops what the run made, and the watchdog does if the gate dies. */
  shared: boolean;
  /** Stops the server, removes its files; after the drops. */
  teardown?: () => Promise<void>;
  /** Runs last whatever happened: the provider unregisters its signal cleanup. */
  afterDispose?: () => void;
  /** How long the provider took: local, the data directory's initialisation and the server's start. */
  startup?: { totalMs: number; initMs?: number; cached?: boolean };
  serverPid?: number;
  tempDir?: string;
}

export class MysqlServer implements ThrowawayServer {
  readonly defaultSchema = SCHEMA;
  private readonly owned: Set<string>;
  private user: { name: string; password: string } | null = null;
  private access: { user: string; password?: string };
  private disposing: Promise<void> | undefined;
  private readonly watchdog: SentinelHandle | undefined;

  constructor(
    readonly engine: DatabaseEngine,
    readonly backend: MysqlBackend,
  ) {
    this.owned = new Set([backend.database]);
    this.access = backend.projectAdmin;
    // On a shared server what this run made outlives a killed gate unless the watchdog drops it.
    this.watchdog = backend.shared ? watchOver({}) : undefined;
    this.listed();
  }

  get provider(): string {
    return this.backend.provider;
  }
  get serverVersion(): string {
    // The report's footer reads "MySQL 10.11.19-MariaDB (local)": which server it was matters.
    return this.backend.facts.flavor === 'mariadb' ? `${this.backend.facts.version}-MariaDB` : this.backend.facts.version;
  }
  /** The user the project's code connects as now. */
  get projectUser(): string {
    return this.access.user;
  }
  /** Databases made for the run and not dropped yet. */
  get databases(): string[] {
    return [...this.owned];
  }
  /** The migration user, while it exists. */
  get migrationUser(): string | undefined {
    return this.user?.name;
  }

  private listed(): void {
    this.watchdog?.update({ mysqlDrop: dropList(this.backend.admin, this.owned, this.user ? [this.user.name] : []) });
  }

  async useMigrationRole(mode: MigrationRoleMode): Promise<string[]> {
    if (this.user) throw new Error('useMigrationRole called twice');
    const b = this.backend;
    const given = b.provider === 'url' ? `the --database-url user "${b.admin.user}"` : `"${b.projectAdmin.user}"`;
    return withConnection(b.admin, async (c) => {
      const notices: string[] = [];
      if (b.provider === 'url') {
        const grants = (await rows<Record<string, unknown>>(c, 'SHOW GRANTS').catch(() => [])).map((r) => text(Object.values(r)[0]) ?? '');
        if (grants.some((g) => /^GRANT (ALL PRIVILEGES|.*\bSUPER\b).* ON \*\.\* /i.test(g))) {
          notices.push(
            `warning: ${given} has every privilege on a server the pull request's code can reach: the project's code ran as an unprivileged user of its own, but make sure the server holds nothing else (a services: container), or give the gate a user with only CREATE, DROP, CREATE USER and GRANT OPTION`,
          );
        }
      }
      if (mode === 'superuser') {
        notices.push(
          `warning: --migration-role superuser: the project's code connects as ${given}, with rights production's migration user rarely has (every database on the server, CREATE USER, FILE, SUPER)`,
        );
        return notices;
      }
      const name = `${MIGRATION_USER_PREFIX}${randomBytes(5).toString('hex')}`;
      const password = randomBytes(18).toString('base64url');
      this.user = { name, password };
      this.listed();
      try {
        const identified = await identifiedBy(c, b.facts.flavor, password);
        for (const host of USER_HOSTS) await c.query(`CREATE USER ${account(name, host)} ${identified}`);
        for (const database of this.owned) await this.grant(c, database);
      } catch (err) {
        await dropUserOn(c, name).catch(() => {});
        this.user = null;
        this.listed();
        if (!DENIED.has((err as { errno?: number }).errno ?? 0)) throw err;
        notices.push(
          `${given} may not create users or grant on its databases (${(err as Error).message}), so the project's code connects as that user: grant it CREATE USER and GRANT OPTION so that migrations run as an unprivileged user of their own`,
        );
        return notices;
      }
      // The server may not let the new user log in the way the project's code will.
      try {
        await withConnection({ host: b.project.host, port: b.project.port, user: name, password, ...(b.admin.ssl ? { ssl: true } : {}) }, (login) => login.query('SELECT 1'));
      } catch (err) {
        notices.push(
          `the migration user ${name} cannot log in to ${b.project.host}:${b.project.port} (${(err as Error).message}), so the project's code connects as ${given}`,
        );
        await dropUserOn(c, name).catch(() => {});
        this.user = null;
        this.listed();
        return notices;
      }
      this.access = { user: name, password };
      return notices;
    });
  }

  private async grant(c: Connection, database: string): Promise<void> {
    if (!this.user) return;
    const to = USER_HOSTS.map((h) => account(this.user!.name, h)).join(', ');
    await c.query(`GRANT ALL PRIVILEGES ON ${grantDatabase(database)}.* TO ${to}`);
  }

  /** A new empty database, the migration user's to use. */
  async createDatabase(): Promise<string> {
    if (this.disposing) throw new Error('createDatabase after dispose()');
    const name = uniqueDatabaseName();
    this.owned.add(name);
    this.listed();
    try {
      await withConnection(this.backend.admin, async (c) => {
        await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
        await this.grant(c, name);
      });
    } catch (err) {
      await dropDatabaseOn(this.backend.admin, name).catch(() => {});
      this.owned.delete(name);
      this.listed();
      throw err;
    }
    return name;
  }

  private single(database: string): DatabaseTarget {
    const { host, port, query } = this.backend.project;
    const { user, password } = this.access;
    const url = mysqlUrl({ host, port, user, ...(password ? { password } : {}), database, ...(query ? { query } : {}) });
    return {
      engine: MYSQL_ID,
      url,
      plainUrl: url,
      twin: { host, port, user, ...(password ? { password } : {}), database },
      marker: this.backend.facts.marker,
      aliases: aliasesOf(host),
      allowed: { host, port, database },
    };
  }

  private shaped(parts: { section?: string; database: string }[]): DatabaseTarget {
    const [first, ...rest] = parts;
    const one = this.single(first!.database);
    if (!first!.section) return one;
    return { ...one, section: first!.section, others: rest.map((p) => ({ section: p.section!, target: this.single(p.database) })) };
  }

  async gateTarget(sections: string[] | null): Promise<DatabaseTarget> {
    if (!sections || sections.length === 0) return this.single(this.backend.database);
    const parts = [{ section: sections[0]!, database: this.backend.database }];
    for (const section of sections.slice(1)) parts.push({ section, database: await this.createDatabase() });
    return this.shaped(parts);
  }

  async createTarget(like: DatabaseTarget, template?: DatabaseTarget): Promise<DatabaseTarget> {
    if (template) throw new Error('copies are not supported on MySQL (a database cannot be cloned there; the checks that need one are skipped)');
    const made: { section?: string; database: string }[] = [];
    try {
      for (const part of targetDatabases(like)) made.push({ ...(part.section ? { section: part.section } : {}), database: await this.createDatabase() });
    } catch (err) {
      await Promise.all(made.map((m) => this.dropDatabase(m.database).catch(() => {})));
      throw err;
    }
    return this.shaped(made);
  }

  async dropTarget(target: DatabaseTarget): Promise<void> {
    await Promise.all(targetDatabases(target).map((d) => (d.database === this.backend.database ? undefined : this.dropDatabase(d.database).catch(() => {}))));
  }

  async dropDatabase(database: string): Promise<void> {
    if (!this.owned.has(database)) throw new Error(`refusing to drop database "${database}": it was not created by this run`);
    if (database === this.backend.database) throw new Error(`refusing to drop the gate database "${database}" before dispose()`);
    await dropDatabaseOn(this.backend.admin, database);
    this.owned.delete(database);
    this.listed();
  }

  /** Sessions read whole snapshots whatever `options` ask (capabilities.incrementalSnapshots). */
  session(database: string, _options?: { incremental: boolean }): Promise<EngineSession> {
    if (!this.owned.has(database)) return Promise.reject(new Error(`no session on database "${database}": it was not created by this run`));
    return MysqlSession.open(this.backend.admin, database, this.backend.facts.flavor);
  }

  async roles(): Promise<Set<string> | null> {
    return null;
  }
  async dropRoles(): Promise<void> {}
  adoptRoles(): void {}
  ownRoles(): string[] {
    return [];
  }

  private async dropOwned(): Promise<void> {
    const failures: string[] = [];
    await Promise.all(
      [...this.owned].map(async (name) => {
        try {
          await dropDatabaseOn(this.backend.admin, name);
          this.owned.delete(name);
        } catch (err) {
          failures.push(`${name}: ${(err as Error).message}`);
        }
      }),
    );
    const user = this.user;
    if (user) {
      try {
        await withConnection(this.backend.admin, (c) => dropUserOn(c, user.name));
        this.user = null;
      } catch (err) {
        failures.push(`user ${user.name}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`could not drop throwaway database(s) or user(s): ${failures.join('; ')}`);
  }

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      let dropError: unknown;
      // A server of the run's own goes away whole: dropping first would be wasted time.
      if (this.backend.shared) {
        try {
          await this.dropOwned();
        } catch (err) {
          dropError = err;
        }
      }
      try {
        await this.backend.teardown?.();
      } finally {
        if (this.owned.size === 0 && !this.user) this.watchdog?.remove();
        else this.listed();
        this.backend.afterDispose?.();
      }
      if (dropError) throw dropError;
    })();
    return this.disposing;
  }
}

/** Other spellings of the project's host: the loopback names stand for each other. */
function aliasesOf(host: string): string[] {
  if (host === '127.0.0.1' || host === '::1') return ['localhost'];
  if (host === 'localhost') return ['127.0.0.1'];
  return [];
}
