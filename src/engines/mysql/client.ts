// The gate's own MySQL/MariaDB connections (mysql2, pure JS, bundled into dist/): a scoped
// connection, identifier quoting, the facts a server reports about itself, and the few
// server-level statements the providers run (create and drop what they made).
import { randomBytes } from 'node:crypto';
import type * as Mysql2 from 'mysql2/promise';

export const MYSQL_ID = 'mysql';

const CONNECT_TIMEOUT_MS = 10_000;

/** How the gate reaches a server: a TCP host and port, or a unix socket (local provider). */
export interface MysqlConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** A unix socket file; host and port are then only for messages. */
  socketPath?: string;
  /** TLS as --database-url asked (ssl=true, ssl_mode=REQUIRED...): not verified. */
  ssl?: boolean;
}

export type Flavor = 'mariadb' | 'mysql';

export interface ServerFacts {
  /** "10.11.19" or "8.0.39". */
  version: string;
  flavor: Flavor;
  /** What a live connection to this server reports: @@hostname:@@port:@@datadir. */
  marker: string;
}

export type Connection = Mysql2.Connection;

// Loaded on the first MySQL connection: a run on another engine does not pay for evaluating it.
let driver: Promise<typeof Mysql2> | undefined;
const mysql2 = (): Promise<typeof Mysql2> =>
  (driver ??= import('mysql2/promise').then((m) => ((m as unknown as { default?: typeof Mysql2 }).default ?? m) as typeof Mysql2));

/** Opens a connection (to `database`, or none). Big numbers come back as text, dates as text. */
export async function connect(info: MysqlConnection, database?: string): Promise<Connection> {
  const conn = await (await mysql2()).createConnection({
    ...(info.socketPath ? { socketPath: info.socketPath } : { host: info.host, port: info.port }),
    user: info.user,
    ...(info.password ? { password: info.password } : {}),
    ...(database ? { database } : {}),
    ...(info.ssl ? { ssl: { rejectUnauthorized: false } } : {}),
    connectTimeout: CONNECT_TIMEOUT_MS,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: false,
    charset: 'utf8mb4',
  });
  // An idle connection can get an async error (the server went away): handled where it is used.
  conn.on('error', () => {});
  return conn;
}

/** Connect, run `fn`, and always close the connection. */
export async function withConnection<T>(info: MysqlConnection, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await connect(info);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** Rows of a query as plain objects. */
export async function rows<T = Record<string, unknown>>(conn: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [result] = await conn.query(sql, params);
  return result as T[];
}

export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/**
 * A string literal. The gate quotes only names and passwords of its own making (letters, digits,
 * `_`, `-`, `%`, `.`) and host names from mysql.user, which no sql_mode reads differently.
 */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A database name in a database-level GRANT, where _ and % are wildcards: escaped to mean only itself. */
export function grantDatabase(name: string): string {
  return quoteIdent(name.replace(/[\\_%]/g, (c) => `\\${c}`));
}

/** `'user'@'host'`. */
export function account(user: string, host: string): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}

/** A database name that cannot clash with anyone else's: alembic_gate_<utc timestamp>_<random>. */
export function uniqueDatabaseName(prefix = 'alembic_gate'): string {
  const ts = new Date().toISOString().replace(/[-:TZ.]/g, '').slice(0, 14);
  return `${prefix}_${ts}_${randomBytes(4).toString('hex')}`;
}

/** Plain text of a value mysql2 may give as a Buffer (binary-collated information_schema columns). */
export function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

export async function serverFacts(conn: Connection): Promise<ServerFacts> {
  const [row] = await rows<{ v: unknown; m: unknown }>(conn, "SELECT VERSION() AS v, CONCAT(@@hostname, ':', @@port, ':', @@datadir) AS m");
  const full = text(row!.v) ?? '';
  return { version: /^[\d.]+/.exec(full)?.[0] ?? full, flavor: /mariadb/i.test(full) ? 'mariadb' : 'mysql', marker: text(row!.m) ?? '' };
}

/** Ends the connections using `database` (a DROP would wait on their locks) or of `user` (about to be dropped), other than `conn`'s own. */
async function killSessions(conn: Connection, of: { database: string } | { user: string }): Promise<void> {
  const [column, value] = 'database' in of ? ['DB', of.database] : ['USER', of.user];
  const ids = await rows<{ id: unknown }>(conn, `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ${column} = ? AND ID <> CONNECTION_ID()`, [value]);
  for (const { id } of ids) await conn.query(`KILL ${Number(id)}`).catch(() => {}); // gone already
}

export const killSessionsOn = (conn: Connection, database: string): Promise<void> => killSessions(conn, { database });

/** Drops a database this run created, after ending the sessions on it. */
export async function dropDatabaseOn(admin: MysqlConnection, name: string): Promise<void> {
  await withConnection(admin, async (conn) => {
    await conn.query('SET SESSION lock_wait_timeout = 10').catch(() => {});
    await killSessionsOn(conn, name);
    await conn.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  });
}

/** The hosts a migration user is made for: any TCP client, and socket logins (which '%' does not match). */
export const USER_HOSTS = ['%', 'localhost'] as const;

/** Drops a user this run created (every host it was made for), after ending its sessions. */
export async function dropUserOn(conn: Connection, user: string): Promise<void> {
  await killSessions(conn, { user });
  for (const host of USER_HOSTS) await conn.query(`DROP USER IF EXISTS ${account(user, host)}`);
}

/**
 * `IDENTIFIED ... BY '<password>'` for a new user. On MySQL, mysql_native_password while the
 * server has it: the default caching_sha2_password makes a driver without TLS fetch the
 * server's RSA key (PyMySQL then needs the cryptography package), which a project may not have.
 */
export async function identifiedBy(conn: Connection, flavor: Flavor, password: string): Promise<string> {
  if (flavor === 'mysql') {
    const [row] = await rows<{ s: unknown }>(conn, "SELECT PLUGIN_STATUS AS s FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'mysql_native_password'").catch(() => []);
    if (text(row?.s) === 'ACTIVE') return `IDENTIFIED WITH mysql_native_password BY ${quoteString(password)}`;
  }
  return `IDENTIFIED BY ${quoteString(password)}`;
}

/** A SQLAlchemy-style URL without a driver (the worker puts the project's in). */
export function mysqlUrl(info: { host: string; port: number; user: string; password?: string; database: string; query?: string }): string {
  const auth = encodeURIComponent(info.user) + (info.password ? `:${encodeURIComponent(info.password)}` : '');
  const host = info.host.includes(':') && !info.host.startsWith('[') ? `[${info.host}]` : info.host;
  return `mysql://${auth}@${host}:${info.port}/${encodeURIComponent(info.database)}${info.query ? `?${info.query}` : ''}`;
}

/** host:port for messages (a socket as its path). */
export function describeEndpoint(info: MysqlConnection): string {
  if (info.socketPath) return `${info.socketPath} (unix socket)`;
  return `${info.host.includes(':') ? `[${info.host}]` : info.host}:${info.port}`;
}
