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
import { randomBytes } from 'node:crypto';
import { MIGRATION_ROLE_PREFIX, type ConnectionInfo, type MigrationRoleMode, type ProjectAccess, type ThrowawayDatabase } from './provider.js';
import { watchOver } from '../../util/sentinel.js';

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
  // The role the project's code connects as (useMigrationRole): dropped after every other.
  let migrationRole: string | undefined;
  let projectAccess = spec.projectAccess;
  const at = (database: string): ConnectionInfo => ({ ...spec.admin, database });
  let disposing: Promise<void> | undefined;
  // On a shared server, what this run created outlives a killed gate unless the watchdog drops it.
  const watchdog = spec.dropOnDispose ? watchOver({}) : undefined;
  const listed = (): void =>
    watchdog?.update({ drop: { admin: spec.admin, databases: [...owned], roles: [...roles, ...(migrationRole ? [migrationRole] : [])], versionNum: spec.facts.versionNum } });
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
    if (migrationRole && failures.length === 0) {
      try {
        await withClient(spec.admin, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(migrationRole!)}`));
        migrationRole = undefined;
      } catch (err) {
        failures.push(`role ${migrationRole}: ${(err as Error).message}`);
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
    get projectAccess() {
      return projectAccess;
    },
    get migrationRole() {
      return migrationRole;
    },
    serverPid: spec.serverPid,
    tempDir: spec.tempDir,

    async createDatabase(opts = {}) {
      if (disposing) throw new Error('createDatabase after dispose()');
      const name = uniqueDatabaseName();
      owned.add(name);
      listed();
      try {
        await createDatabaseOn(spec.admin, name, opts.template, migrationRole);
      } catch (err) {
        owned.delete(name);
        listed();
        throw err;
      }
      return at(name);
    },

    async useMigrationRole(mode: MigrationRoleMode) {
      if (migrationRole) throw new Error('useMigrationRole called twice');
      const user = spec.admin.user;
      const given = spec.provider === 'url' ? `the --database-url user "${user}"` : `"${user}"`;
      // One connection for what the user may do and for making the role.
      return withClient(spec.admin, async (c) => {
        const me = (await c.query<{ su: boolean; cr: boolean }>('SELECT rolsuper AS su, rolcreaterole AS cr FROM pg_roles WHERE rolname = current_user')).rows[0];
        const notices: string[] = [];
        if (spec.provider === 'url' && me?.su) {
          notices.push(
            `warning: ${given} is a superuser on a server the pull request's code can reach: the project's code ran as an unprivileged role of its own, but make sure the server holds nothing else (a services: container), or give the gate a user with only CREATEDB and CREATEROLE`,
          );
        }
        if (mode === 'superuser') {
          notices.push(
            `warning: --migration-role superuser: the project's code connects as ${given}${me?.su ? ', a superuser' : ''}, with rights production's migration role rarely has (dblink, COPY ... TO PROGRAM, untrusted extensions, other databases on the server)`,
          );
          return notices;
        }
        if (!me?.su && !me?.cr) {
          notices.push(
            `${given} may not create roles, so the project's code connects as that user: grant it CREATEROLE so that migrations run as an unprivileged role of their own`,
          );
          return notices;
        }
        const name = `${MIGRATION_ROLE_PREFIX}${randomBytes(5).toString('hex')}`;
        const password = randomBytes(18).toString('base64url');
        // CREATEROLE lets a migration create the roles it grants to (dropped at the end). Before
        // PostgreSQL 16 it also lets a role grant itself pg_execute_server_program and the like:
        // harmless on a server of the gate's own, not on one the user shares with us.
        const createRole = spec.provider !== 'url' || spec.facts.versionNum >= 160000;
        migrationRole = name;
        listed();
        await c.query(
          `CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB ${createRole ? 'CREATEROLE' : 'NOCREATEROLE'} NOREPLICATION`,
        );
        // A user that is no superuser may give a database to a role it is a member of only.
        if (!me.su) await c.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER`);
        for (const database of owned) await c.query(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(name)}`);
        const access: ProjectAccess = { host: projectAccess?.host ?? spec.admin.host, user: name, password };
        // The server may not let the new role log in the way the gate does (pg_hba.conf).
        try {
          await withClient({ ...spec.admin, ...access, database: spec.database }, async (login) => login.query('SELECT 1'));
        } catch (err) {
          notices.push(
            `the migration role ${name} cannot log in to ${spec.admin.host}:${spec.admin.port} (${(err as Error).message}), so the project's code connects as ${given}: allow password logins for every user in pg_hba.conf`,
          );
          return notices;
        }
        projectAccess = access;
        return notices;
      });
    },

    adoptRoles(names) {
      for (const n of names) if (!n.startsWith(MIGRATION_ROLE_PREFIX)) roles.add(n);
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
