// Connection helpers shared by the providers and by the rest of the gate:
// a pg connection string, a scoped client, the SQLAlchemy URL, and the few
// server-level statements the providers run (create/drop the databases they own).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ConnectionInfo } from './provider.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** A libpq/pg connection string for `info` (socket directories go in ?host=). */
export function connectionString(info: ConnectionInfo): string {
  const auth = encodeURIComponent(info.user) + (info.password ? `:${encodeURIComponent(info.password)}` : '');
  const db = encodeURIComponent(info.database);
  const params = new URLSearchParams();
  let hostPart: string;
  if (isSocketDir(info.host)) {
    hostPart = '';
    params.set('host', info.host);
    params.set('port', String(info.port));
  } else {
    hostPart = `${formatHost(info.host)}:${info.port}`;
  }
  if (info.sslmode) params.set('sslmode', info.sslmode);
  // Keep '/' readable in socket paths (allowed in a query; libpq and SQLAlchemy decode either way).
  const query = params.toString().replace(/%2F/gi, '/');
  return `postgresql://${auth}@${hostPart}/${db}${query ? `?${query}` : ''}`;
}

/**
 * The SQLAlchemy URL of the same database, for Alembic. `driver` keeps a dialect suffix the
 * user chose (e.g. "postgresql+psycopg"); the default "postgresql" means psycopg2.
 */
export function sqlalchemyUrl(info: ConnectionInfo, driver = 'postgresql'): string {
  // SQLAlchemy's URL parser takes the same shape as libpq for sockets: host=/dir&port=N.
  return connectionString(info).replace(/^postgresql:/, `${driver}:`);
}

/** pg client options for `info`. */
export function clientConfig(info: ConnectionInfo): pg.ClientConfig {
  return {
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database: info.database,
    ssl: sslOption(info.sslmode),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'alembic-gate',
  };
}

/** Connect, run `fn`, and always close the connection. */
export async function withClient<T>(info: ConnectionInfo, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(info));
  // An idle client can get an async error (server shut down); don't let it crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A database name that cannot clash with anyone else's: alembic_gate_<utc timestamp>_<random>. */
export function uniqueDatabaseName(prefix = 'alembic_gate'): string {
  const ts = new Date().toISOString().replace(/[-:TZ.]/g, '').slice(0, 14);
  return `${prefix}_${ts}_${randomBytes(4).toString('hex')}`;
}

export interface ServerFacts {
  version: string; // e.g. "15.20"
  versionNum: number; // e.g. 150020
  /** When the postmaster started, in microseconds: the mark by which a live connection proves it is on this server. */
  startedAt: string;
}

export async function serverFacts(client: pg.Client): Promise<ServerFacts> {
  const res = await client.query<{ v: string; n: string; s: string }>(
    "select current_setting('server_version') as v, current_setting('server_version_num') as n, " +
      '(extract(epoch from pg_postmaster_start_time()) * 1000000)::bigint::text as s',
  );
  const row = res.rows[0]!;
  // Debian builds report "15.20 (Debian 15.20-0+deb12u1)": keep the number.
  return { version: row.v.split(' ')[0]!, versionNum: Number(row.n), startedAt: row.s };
}

export async function createDatabaseOn(admin: ConnectionInfo, name: string, template?: string, owner?: string): Promise<void> {
  await withClient(admin, async (client) => {
    const sql = `CREATE DATABASE ${quoteIdent(name)}` + (template ? ` TEMPLATE ${quoteIdent(template)}` : '') + (owner ? ` OWNER ${quoteIdent(owner)}` : '');
    try {
      await client.query(sql);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (template && e.code === '55006') {
        throw new Error(
          `could not copy database "${template}": it is in use (${e.message}); close every connection to the template before copying it`,
        );
      }
      throw err;
    }
  });
}

/**
 * Drop a database: WITH (FORCE) on PostgreSQL 13+, else terminate its backends and retry.
 * Only ever called with names the provider created itself.
 */
export async function dropDatabaseOn(admin: ConnectionInfo, name: string, versionNum: number): Promise<void> {
  await withClient(admin, async (client) => {
    if (versionNum >= 130000) {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
      try {
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
        return;
      } catch (err) {
        // 55006: still in use (a backend reconnected or has not exited yet).
        if ((err as { code?: string }).code !== '55006' || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  });
}

export function isSocketDir(host: string): boolean {
  return host.startsWith('/');
}

/** host:port for messages (socket dirs as "<dir> (socket, port N)"). */
export function describeEndpoint(info: Pick<ConnectionInfo, 'host' | 'port'>): string {
  return isSocketDir(info.host) ? `${info.host} (unix socket, port ${info.port})` : `${formatHost(info.host)}:${info.port}`;
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function sslOption(sslmode: string | undefined): pg.ClientConfig['ssl'] {
  switch (sslmode) {
    case undefined:
    case 'disable':
    case 'allow':
    case 'prefer':
      // pg has no opportunistic TLS; libpq's "prefer" falls back to plain text as well.
      return undefined;
    case 'verify-ca':
    case 'verify-full':
      return { rejectUnauthorized: true };
    default:
      return { rejectUnauthorized: false };
  }
}
