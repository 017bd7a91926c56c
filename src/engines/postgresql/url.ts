// `url` provider: an existing server given by --database-url. A fresh uniquely named database
// is created on it and dropped afterwards; nothing else on the server is touched.
import { userInfo } from 'node:os';
import {
  describeEndpoint,
  dropDatabaseOn,
  quoteIdent,
  serverFacts,
  uniqueDatabaseName,
  withClient,
  type ServerFacts,
} from './client.js';
import { registerCleanup } from '../../util/cleanup.js';
import type { ConnectionInfo, ThrowawayDatabase } from './provider.js';
import { makeThrowawayDatabase } from './throwaway.js';

export interface ParsedDatabaseUrl {
  /** The maintenance database named in the URL (default "postgres"). */
  admin: ConnectionInfo;
  /** SQLAlchemy dialect+driver, e.g. "postgresql" or "postgresql+psycopg". */
  driver: string;
}

const EXAMPLE = 'postgresql://user:password@host:5432/postgres';

/** Parse and validate --database-url. Throws an Error that says what is wrong and what to pass. */
export function parseDatabaseUrl(raw: string): ParsedDatabaseUrl {
  const bad = (why: string): Error =>
    new Error(`--database-url ${JSON.stringify(redactUrl(raw))} is not usable: ${why}; expected ${EXAMPLE}`);
  const text = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) throw bad('it does not start with postgresql://');
  const m = /^(postgres|postgresql)(\+[a-z0-9_]+)?$/i.exec(scheme[1]!);
  if (!m) throw bad(`the scheme "${scheme[1]}" is not PostgreSQL (use postgresql:// or postgresql+<driver>://)`);
  // SQLAlchemy 1.4+ no longer accepts the "postgres" alias: normalise it.
  const driver = `postgresql${(m[2] ?? '').toLowerCase()}`;

  let url: URL;
  try {
    // postgresql: is a non-special scheme to WHATWG URL: ports are kept as written.
    // An empty host ("postgresql://user@/db?host=/socket/dir") is valid libpq but not WHATWG:
    // parse it with a placeholder host; the host then has to come from ?host=.
    url = new URL(text.replace(/^([^:]+:\/\/(?:[^@/?#]*@)?)(?=[/?#]|$)/, '$1no-host.invalid'));
  } catch {
    throw bad('it is not a valid URL (percent-encode special characters in the user and password; ports go up to 65535)');
  }
  const params = url.searchParams;
  const urlHost = url.hostname === 'no-host.invalid' ? '' : decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1'));
  const host = params.get('host') ?? urlHost;
  if (!host) throw bad('it names no host');
  if (host.includes(',')) throw bad('several hosts are not supported; name one server');

  const portText = params.get('port') ?? url.port;
  const port = portText === '' ? 5432 : Number(portText);
  if (!/^\d+$/.test(portText || '5432') || port < 1 || port > 65535) {
    throw bad(`the port "${portText}" is not a number between 1 and 65535`);
  }

  const user = decodeURIComponent(url.username) || params.get('user') || process.env.PGUSER || userInfo().username;
  const password = decodeURIComponent(url.password) || params.get('password') || undefined;
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (path.includes('/')) throw bad(`"${path}" is not a database name`);
  const database = path || params.get('dbname') || 'postgres';
  const sslmode = params.get('sslmode') ?? undefined;
  const sslmodes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
  if (sslmode && !sslmodes.includes(sslmode)) throw bad(`sslmode "${sslmode}" is not one of ${sslmodes.join(', ')}`);

  return { admin: { host, port, user, password, database, ...(sslmode ? { sslmode } : {}) }, driver };
}

/** The URL with its password replaced by "***", for messages and logs. */
export function redactUrl(raw: string): string {
  return raw.replace(/^([^:/?#]+:\/\/[^:@/?#]*:)[^@/?#]*@/, '$1***@').replace(/([?&]password=)[^&#]*/i, '$1***');
}

export async function provisionUrl(opts: { databaseUrl: string; log?: (msg: string) => void }): Promise<ThrowawayDatabase> {
  const { admin, driver } = parseDatabaseUrl(opts.databaseUrl);
  const where = `${describeEndpoint(admin)} as user "${admin.user}" (database "${admin.database}")`;
  const name = uniqueDatabaseName();
  let facts: ServerFacts | undefined;
  let maybeCreated = false;
  let db: ThrowawayDatabase | undefined;

  // Registered before CREATE DATABASE so a signal in between still drops it.
  const unregister = registerCleanup(async () => {
    if (db) await db.dispose();
    else if (maybeCreated) await dropDatabaseOn(admin, name, facts?.versionNum ?? 0);
  });

  try {
    await withClient(admin, async (client) => {
      facts = await serverFacts(client);
      maybeCreated = true;
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } catch (err) {
        maybeCreated = false;
        throw err;
      }
    });
  } catch (err) {
    unregister();
    throw new Error(connectFailureMessage(err, where, facts !== undefined));
  }

  opts.log?.(`url: created database "${name}" on ${describeEndpoint(admin)} (PostgreSQL ${facts!.version})`);
  db = makeThrowawayDatabase({ afterDispose: unregister, provider: 'url', admin, database: name, facts: facts!, driver, dropOnDispose: true });
  return db;
}

function connectFailureMessage(err: unknown, where: string, connected: boolean): string {
  const e = err as { code?: string; message?: string };
  const pgError = `${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`;
  if (connected) {
    if (e.code === '42501') {
      return `the user given by --database-url may not create databases on ${where}: ${pgError}; grant it CREATEDB or use a user that has it`;
    }
    return `could not create a throwaway database on ${where}: ${pgError}`;
  }
  let hint = 'check the host, port and that the server is running and reachable';
  if (e.code === '28P01' || e.code === '28000') hint = 'check the user and password in --database-url';
  else if (e.code === '3D000') hint = 'name an existing maintenance database in --database-url, e.g. /postgres';
  else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') hint = 'the host name does not resolve';
  return `could not connect to PostgreSQL at ${where} given by --database-url: ${pgError}; ${hint}`;
}
