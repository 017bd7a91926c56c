// The ThrowawayDatabase every provider returns: one gate database on a server, plus the
// databases created next to it. It only ever drops databases it created itself.
import {
  createDatabaseOn,
  dropDatabaseOn,
  quoteIdent,
  sqlalchemyUrl,
  withClient,
  uniqueDatabaseName,
  type ServerFacts,
} from './client.js';
import type { ConnectionInfo, ProjectAccess, ThrowawayDatabase } from './provider.js';
import { watchOver } from './sentinel.js';

export interface ThrowawaySpec {
  provider: string;
  /** Connection to the server's maintenance database (for CREATE/DROP DATABASE). */
  admin: ConnectionInfo;
  /** The gate database, already created by the provider. */
  database: string;
  facts: ServerFacts;
  /** SQLAlchemy dialect+driver to put in sqlalchemyUrl (default "postgresql"). */
  driver?: string;
  /**
   * true: dispose drops every database created here (a shared server).
   * false: the whole server goes away in teardown, so dropping first is wasted time.
   */
  dropOnDispose: boolean;
  /** Stop the server / remove temp dirs; runs after the drops. */
  teardown?: () => Promise<void>;
  /** Runs last, whatever happened before: the provider unregisters its signal cleanup here. */
  afterDispose?: () => void;
  serverPid?: number;
  tempDir?: string;
  /** See ThrowawayDatabase.projectAccess. */
  projectAccess?: ProjectAccess;
}

export function makeThrowawayDatabase(spec: ThrowawaySpec): ThrowawayDatabase {
  const owned = new Set<string>([spec.database]);
  const roles = new Set<string>();
  const at = (database: string): ConnectionInfo => ({ ...spec.admin, database });
  let disposing: Promise<void> | undefined;
  // On a shared server, what this run created outlives a killed gate unless the watchdog drops it.
  const watchdog = spec.dropOnDispose ? watchOver({}) : undefined;
  const listed = (): void =>
    watchdog?.update({ drop: { admin: spec.admin, databases: [...owned], roles: [...roles], versionNum: spec.facts.versionNum } });
  listed();

  const dropOwned = async (): Promise<void> => {
    const failures: string[] = [];
    await Promise.all(
      [...owned].map(async (name) => {
        try {
          await dropDatabaseOn(spec.admin, name, spec.facts.versionNum);
          owned.delete(name);
        } catch (err) {
          failures.push(`${name}: ${(err as Error).message}`);
        }
      }),
    );
    // After the databases: what the roles owned there is gone with them.
    for (const role of roles) {
      try {
        await withClient(spec.admin, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`));
        roles.delete(role);
      } catch (err) {
        failures.push(`role ${role}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`could not drop throwaway database(s) or role(s): ${failures.join('; ')}`);
  };

  return {
    provider: spec.provider,
    connection: at(spec.database),
    sqlalchemyUrl: sqlalchemyUrl(at(spec.database), spec.driver),
    serverVersion: spec.facts.version,
    serverMarker: spec.facts.startedAt,
    driver: spec.driver ?? 'postgresql',
    ...(spec.projectAccess ? { projectAccess: spec.projectAccess } : {}),
    serverPid: spec.serverPid,
    tempDir: spec.tempDir,

    async createDatabase(opts = {}) {
      if (disposing) throw new Error('createDatabase after dispose()');
      const name = uniqueDatabaseName();
      owned.add(name);
      listed();
      try {
        await createDatabaseOn(spec.admin, name, opts.template);
      } catch (err) {
        owned.delete(name);
        listed();
        throw err;
      }
      return at(name);
    },

    adoptRoles(names) {
      for (const n of names) roles.add(n);
      listed();
    },

    ownRoles() {
      return [...roles];
    },

    async dropDatabase(name) {
      if (!owned.has(name)) {
        throw new Error(`refusing to drop database "${name}": it was not created by this run`);
      }
      if (name === spec.database) {
        throw new Error(`refusing to drop the gate database "${name}" before dispose()`);
      }
      await dropDatabaseOn(spec.admin, name, spec.facts.versionNum);
      owned.delete(name);
      listed();
    },

    dispose() {
      disposing ??= (async () => {
        let dropError: unknown;
        if (spec.dropOnDispose) {
          try {
            await dropOwned();
          } catch (err) {
            dropError = err;
          }
        }
        try {
          await spec.teardown?.();
        } finally {
          if (owned.size === 0 && roles.size === 0) watchdog?.remove();
          else listed();
          spec.afterDispose?.();
        }
        if (dropError) throw dropError;
      })();
      return disposing;
    },
  };
}
