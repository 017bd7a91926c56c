// `url` provider: an existing MySQL/MariaDB server given by --database-url. A fresh uniquely
// named database is created on it and dropped afterwards (the watchdog drops it if the gate is
// killed); nothing else on the server is touched.
import { userInfo } from 'node:os';
import { registerCleanup } from '../../util/cleanup.js';
import type { DatabaseEngine } from '../engine.js';
import { describeEndpoint, dropDatabaseOn, quoteIdent, serverFacts, uniqueDatabaseName, withConnection, type MysqlConnection, type ServerFacts } from './client.js';
import { MysqlServer } from './server.js';

export interface ParsedMysqlUrl {
  admin: MysqlConnection;
  /** The query string the project's URLs keep (charset, ssl options), if any. */
  query?: string;
}

const EXAMPLE = 'mysql://user:password@host:3306/';
const SCHEME = /^(mysql|mariadb)(\+[a-z0-9_]+)?$/i;

/** Parse and validate --database-url. Throws an Error that says what is wrong and what to pass. */
export function parseMysqlUrl(raw: string): ParsedMysqlUrl {
  const bad = (why: string): Error => new Error(`--database-url ${JSON.stringify(redactUrl(raw))} is not usable: ${why}; expected ${EXAMPLE}`);
  const text = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) throw bad('it does not start with mysql://');
  if (!SCHEME.test(scheme[1]!)) throw bad(`the scheme "${scheme[1]}" is not MySQL or MariaDB (use mysql://, mysql+pymysql:// or mariadb+<driver>://)`);
  let url: URL;
  try {
    url = new URL(text.replace(/^([^:]+:\/\/(?:[^@/?#]*@)?)(?=[/?#]|$)/, '$1no-host.invalid'));
  } catch {
    throw bad('it is not a valid URL (percent-encode special characters in the user and password; ports go up to 65535)');
  }
  const params = url.searchParams;
  const socketPath = params.get('unix_socket') ?? undefined;
  const urlHost = url.hostname === 'no-host.invalid' ? '' : decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1'));
  const host = urlHost || (socketPath ? 'localhost' : '');
  if (!host) throw bad('it names no host');
  const port = url.port === '' ? 3306 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`the port "${url.port}" is not a number between 1 and 65535`);
  const user = decodeURIComponent(url.username) || params.get('user') || process.env.USER || userInfo().username;
  const password = decodeURIComponent(url.password) || params.get('password') || undefined;
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (path.includes('/')) throw bad(`"${path}" is not a database name`);
  const sslMode = (params.get('ssl_mode') ?? params.get('ssl-mode') ?? '').toUpperCase();
  const ssl = ['true', '1'].includes((params.get('ssl') ?? '').toLowerCase()) || ['REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY'].includes(sslMode) || params.has('ssl_ca');
  // The project's URLs keep what says how to talk to the server, not who to log in as.
  for (const key of ['user', 'password', 'unix_socket']) params.delete(key);
  const query = params.toString();
  return { admin: { host, port, user, ...(password ? { password } : {}), ...(socketPath ? { socketPath } : {}), ...(ssl ? { ssl } : {}) }, ...(query ? { query } : {}) };
}

/** The URL with its password replaced by "***", for messages and logs. */
export function redactUrl(raw: string): string {
  return raw.replace(/^([^:/?#]+:\/\/[^:@/?#]*:)[^@/?#]*@/, '$1***@').replace(/([?&]password=)[^&#]*/i, '$1***');
}

export async function provisionUrl(engine: DatabaseEngine, opts: { databaseUrl: string; log?: (msg: string) => void }): Promise<MysqlServer> {
  const { admin, query } = parseMysqlUrl(opts.databaseUrl);
  const where = `${describeEndpoint(admin)} as user "${admin.user}"`;
  const name = uniqueDatabaseName();
  let facts: ServerFacts | undefined;
  let maybeCreated = false;
  let server: MysqlServer | undefined;

  // Registered before CREATE DATABASE so a signal in between still drops it.
  const unregister = registerCleanup(async () => {
    if (server) await server.dispose();
    else if (maybeCreated) await dropDatabaseOn(admin, name);
  });
  try {
    await withConnection(admin, async (c) => {
      facts = await serverFacts(c);
      maybeCreated = true;
      try {
        await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } catch (err) {
        maybeCreated = false;
        throw err;
      }
    });
  } catch (err) {
    unregister();
    throw new Error(connectFailureMessage(err, where, facts !== undefined));
  }
  opts.log?.(`url: created database "${name}" on ${describeEndpoint(admin)} (${facts!.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${facts!.version})`);
  server = new MysqlServer(engine, {
    provider: 'url',
    admin,
    // The project's code reaches the server as the URL does (a socket URL's project gets its host).
    project: { host: admin.host, port: admin.port, ...(query ? { query } : {}) },
    projectAdmin: { user: admin.user, ...(admin.password ? { password: admin.password } : {}) },
    facts: facts!,
    database: name,
    shared: true,
    afterDispose: unregister,
  });
  return server;
}

function connectFailureMessage(err: unknown, where: string, connected: boolean): string {
  const e = err as { errno?: number; code?: string; message?: string };
  const detail = `${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`;
  if (connected) {
    if (e.errno === 1044 || e.errno === 1227) return `the user given by --database-url may not create databases on ${where}: ${detail}; grant it CREATE (and DROP) on *.* or use a user that has it`;
    return `could not create a throwaway database on ${where}: ${detail}`;
  }
  let hint = 'check the host, port and that the server is running and reachable';
  if (e.errno === 1045) hint = 'check the user and password in --database-url';
  else if (e.errno === 1130) hint = 'the server does not let this user log in from this host';
  else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') hint = 'the host name does not resolve';
  return `could not connect to MySQL at ${where} given by --database-url: ${detail}; ${hint}`;
}
