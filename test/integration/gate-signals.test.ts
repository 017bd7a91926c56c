// Ctrl-C and SIGTERM in the middle of a migration: the gate exits with the signal's status and
// leaves nothing behind: no database, no cluster, no Python worker, no temp dir.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { makeFixtureRepo } from '../helpers/fixture-repo.js';
import { cliPath } from '../helpers/run-cli.js';

const SERVER = 'postgresql://postgres@127.0.0.1:5432/postgres';

async function waitFor<T>(what: string, fn: () => Promise<T | null> | T | null, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: SERVER });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Our processes still alive: Python workers and PostgreSQL servers started from `tmp`. */
function leftovers(tmp: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes('alembic_gate_worker') || l.includes('alembic-gate-worker') || l.includes('--inspect-sqlite') || (l.includes('postgres') && l.includes(tmp)));
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Processes a fixture's migration started (`sleep 4242.N`) that are still running. */
function strays(): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => /sleep 4242\.\d/.test(l));
}

interface RunningGate {
  child: ReturnType<typeof spawn>;
  tmp: string;
  /** Exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

/** Starts the CLI on the hangs fixture (its migration sleeps in SQL) with a private TMPDIR. */
async function startHanging(provider: 'local' | 'url', label: string): Promise<RunningGate> {
  const repo = await makeFixtureRepo('hangs');
  const tmp = mkdtempSync(join(tmpdir(), `ag-${label}-`));
  chmodSync(tmp, 0o755); // so the cluster (run as an unprivileged user) is created inside it
  cleanups.push(() => repo.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
  const args = provider === 'local' ? ['--provider', 'local'] : ['--database-url', SERVER];
  const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', '/usr/bin/python3', ...args, '--format', 'json'], {
    cwd: repo.dir,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, tmp, exited, stderr: () => stderr };
}

/** The gate's private cluster under `tmp` is running the fixture's pg_sleep (asked on its own socket). */
async function clusterMigrationRunning(tmp: string): Promise<true | null> {
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  const m = new RegExp(`postgres -D (${tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[^/ ]+)/data -p (\\d+)`).exec(ps);
  if (!m) return null;
  const c = new pg.Client({ host: m[1], port: Number(m[2]), user: 'postgres', database: 'postgres' });
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.query("SELECT 1 FROM pg_stat_activity WHERE query ILIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()");
    return r.rowCount ? true : null;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

/** The gate's database on the shared server that is running the sleeping statement, not one of `before`. */
async function serverMigrationRunning(before: Set<string>): Promise<string | null> {
  const rows = await query<{ datname: string }>("SELECT datname FROM pg_stat_activity WHERE query ILIKE '%pg_sleep%' AND datname LIKE 'alembic_gate_%'");
  return rows.find((r) => !before.has(r.datname))?.datname ?? null;
}

const gateDatabases = async (): Promise<Set<string>> =>
  new Set((await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic_gate_%'")).map((r) => r.datname));
/** The unprivileged roles the project's code connects as (one per run on a --database-url server). */
const migrationRoles = async (): Promise<Set<string>> =>
  new Set((await query<{ r: string }>("SELECT rolname AS r FROM pg_roles WHERE rolname LIKE 'alembic\\_gate\\_m\\_%'")).map((x) => x.r));
const newMigrationRoles = async (before: Set<string>) => [...(await migrationRoles())].filter((r) => !before.has(r));

describe('a private TMPDIR (0700, as root often has)', () => {
  it('puts the local cluster where its unprivileged user can reach it', async () => {
    const { clusterParent, unprivilegedUser } = await import('../../src/engines/postgresql/cluster.js');
    const runAs = unprivilegedUser();
    const tmp = mkdtempSync(join(tmpdir(), 'ag-private-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    if (!runAs) {
      expect(clusterParent(undefined, tmp)).toBe(tmp); // not root: no user switch, TMPDIR is fine
      return;
    }
    expect(clusterParent(runAs, tmp)).toBe('/tmp');
    chmodSync(tmp, 0o755);
    expect(clusterParent(runAs, tmp)).toBe(tmp);
  });
});

describe.each([
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const)('%s during a hanging migration', (signal, status) => {
  it('url provider: exits with the signal status and drops its database and its role', async () => {
    const before = await gateDatabases();
    const rolesBefore = await migrationRoles();
    const gate = await startHanging('url', 'signal');
    // The migration is sleeping inside the gate's own database.
    const db = await waitFor('the migration to start', () => serverMigrationRunning(before));
    gate.child.kill(signal);
    expect((await gate.exited).code).toBe(status);
    expect(await query(`SELECT datname FROM pg_database WHERE datname = '${db}'`)).toEqual([]);
    expect(await newMigrationRoles(rolesBefore)).toEqual([]);
    await waitFor('no sleeping backend', async () => ((await query(`SELECT 1 FROM pg_stat_activity WHERE datname = '${db}'`)).length === 0 ? true : null), 10_000);
    expect(leftovers(gate.tmp)).toEqual([]);
    expect(readdirSync(gate.tmp)).toEqual([]);
  });

  it('local provider: exits with the signal status, stops the cluster and removes every temp dir', async () => {
    const gate = await startHanging('local', 'signal');
    await waitFor('the migration to start', () => clusterMigrationRunning(gate.tmp));
    expect(leftovers(gate.tmp).length).toBeGreaterThan(0); // the cluster and workers are really up
    gate.child.kill(signal);
    expect((await gate.exited).code).toBe(status);
    await waitFor('the cluster to stop', () => (leftovers(gate.tmp).length === 0 ? true : null), 10_000);
    expect(readdirSync(gate.tmp)).toEqual([]);
  });
});

describe('processes a migration starts', () => {
  it('end with the run: a plain child, a setsid child and a double-forked daemon; input() reads end of file', async () => {
    const repo = await makeFixtureRepo('starts-processes');
    cleanups.push(() => repo.cleanup());
    const { runCli } = await import('../helpers/run-cli.js');
    // A hang (the gate waiting on a pipe a stray holds, or input() reading the protocol) ends
    // at this timeout with SIGTERM: exit 143, not 0.
    const r = await runCli(repo.dir, ['--base', 'main', '--python', '/usr/bin/python3', '--database-url', SERVER], { timeoutMs: 40_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.report?.status).toBe('pass');
    expect(strays()).toEqual([]);
  });
});

describe('a gate killed outright (SIGKILL: no cleanup of its own runs)', () => {
  it('local provider: the watchdog stops the cluster and the workers and removes the temp dir within seconds', async () => {
    const gate = await startHanging('local', 'sigkill');
    await waitFor('the migration to start', () => clusterMigrationRunning(gate.tmp));
    expect(leftovers(gate.tmp).length).toBeGreaterThan(0);
    gate.child.kill('SIGKILL');
    expect((await gate.exited).signal).toBe('SIGKILL');
    const started = Date.now();
    await waitFor('the cluster and workers to end', () => (leftovers(gate.tmp).length === 0 && readdirSync(gate.tmp).length === 0 ? true : null), 5_000);
    console.log(`after SIGKILL, everything was gone in ${Date.now() - started} ms`);
  });

  it('url provider: the watchdog drops the database and the role the run created', async () => {
    const before = await gateDatabases();
    const rolesBefore = await migrationRoles();
    const gate = await startHanging('url', 'sigkill');
    const db = await waitFor('the migration to start', () => serverMigrationRunning(before));
    gate.child.kill('SIGKILL');
    expect((await gate.exited).signal).toBe('SIGKILL');
    await waitFor('the databases to be dropped', async () => ([...(await gateDatabases())].every((d) => before.has(d)) ? true : null), 5_000);
    await waitFor('the migration role to be dropped', async () => ((await newMigrationRoles(rolesBefore)).length === 0 ? true : null), 5_000);
    expect(await query(`SELECT 1 FROM pg_stat_activity WHERE datname = '${db}'`)).toEqual([]);
    expect(leftovers(gate.tmp)).toEqual([]);
  });
});

describe('Ctrl-C twice (the second one stops waiting for cleanups)', () => {
  it.each(['local', 'url'] as const)('%s provider: exits 130 and still leaves nothing behind', async (provider) => {
    const before = await gateDatabases();
    const gate = await startHanging(provider, 'twice');
    await waitFor<true | string>('the migration to start', () => (provider === 'local' ? clusterMigrationRunning(gate.tmp) : serverMigrationRunning(before)));
    gate.child.kill('SIGINT');
    gate.child.kill('SIGINT');
    expect((await gate.exited).code).toBe(130);
    await waitFor('nothing left', async () => {
      const dbs = [...(await gateDatabases())].filter((d) => !before.has(d));
      return dbs.length === 0 && leftovers(gate.tmp).length === 0 && readdirSync(gate.tmp).length === 0 ? true : null;
    }, 5_000);
  });
});

describe('a server that dies under the gate', () => {
  it('local provider, postmaster killed during a migration: exit 2 with a message, and nothing left', async () => {
    const gate = await startHanging('local', 'killed-server');
    const postmaster = await waitFor('the migration to start', async () => {
      if (!(await clusterMigrationRunning(gate.tmp))) return null;
      const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
      const line = ps.split('\n').find((l) => l.includes(`postgres -D ${gate.tmp}/`));
      return line ? Number(line.trim().split(/\s+/)[0]) : null;
    });
    process.kill(postmaster, 'SIGKILL');
    expect((await gate.exited).code).toBe(2);
    expect(gate.stderr()).toMatch(/^alembic-gate: the gate lost its connection to the throwaway database during "round-trip d4e5f6a1b2c3 slow backfill" \(/m);
    expect(gate.stderr()).not.toMatch(/internal error|\n\s+at /);
    await waitFor('nothing left', () => (leftovers(gate.tmp).length === 0 && readdirSync(gate.tmp).length === 0 ? true : null), 5_000);
  });
});
