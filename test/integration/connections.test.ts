// The database env.py asks for: whatever URL env.py, a settings module or a migration names,
// the connection lands on the gate's throwaway server. Each fixture runs the bundled CLI with
// the local provider (the gate's own cluster), while a "production" database lives on another
// server (127.0.0.1:5432) behind a TCP proxy that counts connections: after each run it must
// be untouched, and no connection may have reached it.
//
// Build the bundle first: node scripts/build.mjs
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, Report } from '../../src/report/types.js';
import { makeFixtureRepo, type FixtureRepo } from '../helpers/fixture-repo.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';
const PRODUCTION = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const SQLALCHEMY_2 = (process.env.PYTHONPATH ?? '').includes('sid-stack');

/** A TCP proxy in front of the production server that counts the connections it is asked for. */
interface CountingProxy {
  port: number;
  connections: number;
  close(): Promise<void>;
}

function countingProxy(): Promise<CountingProxy> {
  const sockets = new Set<Socket>();
  const proxy = { port: 0, connections: 0, close: async () => {} } as CountingProxy;
  const server: Server = createServer((client) => {
    proxy.connections++;
    const upstream = createConnection(PRODUCTION.port, PRODUCTION.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      proxy.port = (server.address() as { port: number }).port;
      proxy.close = () =>
        new Promise((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        });
      resolve(proxy);
    });
  });
}

async function onProduction<T extends pg.QueryResultRow>(database: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ ...PRODUCTION, database });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

let tmp: string;
let proxy: CountingProxy;
const canary = `ag_production_${process.pid}_${Date.now().toString(36)}`;
let canaryUrl: string;
const repos: FixtureRepo[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ag-conn-it-'));
  chmodSync(tmp, 0o755);
  await onProduction('postgres', `CREATE DATABASE ${canary}`);
  await onProduction(canary, "CREATE TABLE precious (id int PRIMARY KEY, v text); INSERT INTO precious VALUES (1, 'keep')");
  proxy = await countingProxy();
  canaryUrl = `postgresql://${PRODUCTION.user}@127.0.0.1:${proxy.port}/${canary}`;
});

afterAll(async () => {
  await proxy?.close();
  for (const r of repos) await r.cleanup();
  await onProduction('postgres', `DROP DATABASE IF EXISTS ${canary} WITH (FORCE)`);
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the gate on a fixture with the local provider; asserts production was neither touched nor reached. */
async function gate(name: string, args: string[] = [], reached = 0): Promise<CliResult> {
  const repo = await makeFixtureRepo(name);
  repos.push(repo);
  const before = proxy.connections;
  const r = await runCli(repo.dir, ['--base', 'main', '--python', PYTHON, '--provider', 'local', ...args], {
    env: { TMPDIR: tmp, CANARY_URL: canaryUrl, DATABASE_URL: canaryUrl },
  });
  expect(proxy.connections - before, `${name}: connections that reached production\n${explain(r)}`).toBe(reached);
  const tables = await onProduction<{ tablename: string }>(canary, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  expect(tables.map((t) => t.tablename)).toEqual(['precious']);
  const rows = await onProduction<{ v: string }>(canary, 'SELECT v FROM precious');
  expect(rows).toEqual([{ v: 'keep' }]);
  return r;
}

function explain(r: CliResult): string {
  const checks = r.report?.checks.map((c) => `${c.id}=${c.status} (${c.summary})${c.findings.map((f) => `\n    - ${f.message}`).join('')}`).join('\n  ');
  return `exit ${r.code}\nerror: ${r.report?.error ?? ''}\nnotices: ${r.report?.notices.join('\n  ') ?? ''}\nchecks:\n  ${checks ?? '(no report)'}\nstderr: ${r.stderr.slice(0, 2000)}`;
}

const failing = (report: Report | undefined) => (report?.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.id).sort();

function expectVerdict(r: CliResult, code: 0 | 1, failed: CheckId[] = []): Report {
  expect(r.code, explain(r)).toBe(code);
  expect(failing(r.report), explain(r)).toEqual(failed);
  return r.report!;
}

const redirectNotice = (report: Report, file: string) =>
  expect(report.notices, JSON.stringify(report.notices)).toContain(`${file} connected to postgresql://${PRODUCTION.user}@127.0.0.1:${proxy.port}/${canary}; redirected to its throwaway twin`);

describe('every connection lands on a throwaway twin', () => {
  it('an env.py that connects to a production URL of its own is redirected, with a notice', async () => {
    const report = expectVerdict(await gate('foreign-db'), 0);
    redirectNotice(report, 'migrations/env.py');
  });

  it('--foreign-connections refuse fails the run instead, naming the URL', async () => {
    const r = await gate('foreign-db', ['--foreign-connections', 'refuse']);
    expect(r.code, explain(r)).toBe(1);
    expect(failing(r.report)).toEqual(['upgrade']);
    const message = r.report!.checks.find((c) => c.id === 'upgrade')!.findings[0]!.message;
    expect(message).toContain(`migrations/env.py tried to connect to postgresql://${PRODUCTION.user}@127.0.0.1:${proxy.port}/${canary}`);
    expect(message).toContain('--foreign-connections refuse');
  });

  it('an engine built with creator= (the Cloud SQL connector pattern) is redirected too', async () => {
    const report = expectVerdict(await gate('connect-creator'), 0);
    redirectNotice(report, 'migrations/env.py');
  });

  it('a connection that gets past every redirect is caught on the live connection and closed before anything runs on it', async () => {
    // The only bypass left: a DBAPI connect below the drivers' Python functions. Its TCP
    // connection reaches production, once for the upgrade and once for the data check's, and
    // is closed there; production is still untouched (checked in gate()).
    const r = await gate('connect-bypass', [], 2);
    const report = expectVerdict(r, 1, ['upgrade']);
    const message = report.checks.find((c) => c.id === 'upgrade')!.findings[0]!.message;
    expect(message).toContain(`migrations/env.py opened a database connection that bypassed alembic-gate's redirect and landed on postgresql://${PRODUCTION.user}@127.0.0.1:${proxy.port}/${canary}`);
    expect(message).toContain('closed it before any statement');
  });

  it('settings read once at import stay valid for the whole run: a leaky PR fails roundtrip (exit 1), not exit 2', async () => {
    // DATABASE_URL is production's when the job starts; the gate sets it to the twin before the
    // settings module reads it, and the copy the data check runs on is reached through the same URL.
    const report = expectVerdict(await gate('connect-settings'), 1, ['locks', 'roundtrip']);
    expect(report.checks.find((c) => c.id === 'roundtrip')!.findings.map((f) => f.message).join('\n')).toContain('ix_users_name');
    expect(report.checks.find((c) => c.id === 'data')!.status).toBe('pass');
  });

  it('an async env.py that rewrites DATABASE_URL to postgresql+asyncpg:// runs', async () => {
    expectVerdict(await gate('connect-async'), 0);
  });

  it("DATABASE_URL validates as pydantic's PostgresDsn (a host, not a socket)", async () => {
    expectVerdict(await gate('connect-pydantic'), 0);
  });

  it('a URL composed from POSTGRES_SERVER/PORT/USER/PASSWORD/DB (the FastAPI template) runs', async () => {
    expectVerdict(await gate('connect-postgres-env'), 0);
  });

  it(`an env.py that never commits fails upgrade naming the cause (SQLAlchemy ${SQLALCHEMY_2 ? '2.0' : '1.4 commits it: pass'})`, async () => {
    const r = await gate('never-commits');
    if (!SQLALCHEMY_2) {
      expectVerdict(r, 0);
      return;
    }
    const report = expectVerdict(r, 1, ['upgrade']);
    const message = report.checks.find((c) => c.id === 'upgrade')!.findings[0]!.message;
    expect(message).toContain('upgrade of c3d4e5f6a1b2 fails: the upgrade to c3d4e5f6a1b2 reported success, but afterwards alembic_version says b2c3d4e5f6a1');
    expect(message).toContain('env.py never commits');
  });
});
