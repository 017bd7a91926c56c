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
  return ps.split('\n').filter((l) => l.includes('alembic_gate_worker') || (l.includes('postgres') && l.includes(tmp)));
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('a private TMPDIR (0700, as root often has)', () => {
  it('puts the local cluster where its unprivileged user can reach it', async () => {
    const { clusterParent, unprivilegedUser } = await import('../../src/db/cluster.js');
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
  it('url provider: exits with the signal status and drops its database', async () => {
    const repo = await makeFixtureRepo('hangs');
    const tmp = mkdtempSync(join(tmpdir(), 'ag-signal-'));
    cleanups.push(() => repo.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
    const before = new Set((await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic_gate_%'")).map((r) => r.datname));
    const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', '/usr/bin/python3', '--database-url', SERVER, '--format', 'json'], {
      cwd: repo.dir,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // The migration is sleeping inside the gate's own database.
    const db = await waitFor('the migration to start', async () => {
      const rows = await query<{ datname: string }>("SELECT datname FROM pg_stat_activity WHERE query ILIKE '%pg_sleep%' AND datname LIKE 'alembic_gate_%'");
      return rows.find((r) => !before.has(r.datname))?.datname ?? null;
    });
    child.kill(signal);
    expect(await exited).toBe(status);
    const after = await query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname = '${db}'`);
    expect(after).toEqual([]);
    await waitFor('no sleeping backend', async () => ((await query(`SELECT 1 FROM pg_stat_activity WHERE datname = '${db}'`)).length === 0 ? true : null), 10_000);
    expect(leftovers(tmp)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('local provider: exits with the signal status, stops the cluster and removes every temp dir', async () => {
    const repo = await makeFixtureRepo('hangs');
    const tmp = mkdtempSync(join(tmpdir(), 'ag-signal-'));
    chmodSync(tmp, 0o755); // so the cluster (run as an unprivileged user) is created inside it
    cleanups.push(() => repo.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
    const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', '/usr/bin/python3', '--provider', 'local', '--format', 'json'], {
      cwd: repo.dir,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // A backend of the gate's private cluster is running the sleeping statement.
    await waitFor('the migration to start', () => {
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      return /postgres: postgres alembic_gate .*SELECT/.test(ps) ? true : null;
    });
    expect(leftovers(tmp).length).toBeGreaterThan(0); // the cluster and workers are really up
    child.kill(signal);
    expect(await exited).toBe(status);
    await waitFor('the cluster to stop', () => (leftovers(tmp).length === 0 ? true : null), 10_000);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

/** Processes a fixture's migration started (`sleep 4242.N`) that are still running. */
function strays(): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => /sleep 4242\.\d/.test(l));
}

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
    const repo = await makeFixtureRepo('hangs');
    const tmp = mkdtempSync(join(tmpdir(), 'ag-sigkill-'));
    chmodSync(tmp, 0o755);
    cleanups.push(() => repo.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
    const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', '/usr/bin/python3', '--provider', 'local', '--format', 'json'], {
      cwd: repo.dir,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
    await waitFor('the migration to start', () => {
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      return /postgres: postgres alembic_gate .*SELECT/.test(ps) ? true : null;
    });
    expect(leftovers(tmp).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const started = Date.now();
    await waitFor('the cluster and workers to end', () => (leftovers(tmp).length === 0 && readdirSync(tmp).length === 0 ? true : null), 5_000);
    console.log(`after SIGKILL, everything was gone in ${Date.now() - started} ms`);
  });

  it('url provider: the watchdog drops the database the run created', async () => {
    const repo = await makeFixtureRepo('hangs');
    const tmp = mkdtempSync(join(tmpdir(), 'ag-sigkill-'));
    cleanups.push(() => repo.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
    const before = new Set((await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic_gate_%'")).map((r) => r.datname));
    const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', '/usr/bin/python3', '--database-url', SERVER, '--format', 'json'], {
      cwd: repo.dir,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
    const db = await waitFor('the migration to start', async () => {
      const rows = await query<{ datname: string }>("SELECT datname FROM pg_stat_activity WHERE query ILIKE '%pg_sleep%' AND datname LIKE 'alembic_gate_%'");
      return rows.find((r) => !before.has(r.datname))?.datname ?? null;
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const created = async () => (await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic_gate_%'")).filter((r) => !before.has(r.datname));
    await waitFor('the databases to be dropped', async () => ((await created()).length === 0 ? true : null), 5_000);
    expect(await query(`SELECT 1 FROM pg_stat_activity WHERE datname = '${db}'`)).toEqual([]);
    expect(leftovers(tmp)).toEqual([]);
  });
});

describe('Ctrl-C twice (the second one stops waiting for cleanups)', () => {
  it.each(['local', 'url'] as const)('%s provider: exits 130 and still leaves nothing behind', async (provider) => {
    const repo = await makeFixtureRepo('hangs');
    const tmp = mkdtempSync(join(tmpdir(), 'ag-twice-'));
    chmodSync(tmp, 0o755);
    cleanups.push(() => repo.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
    const before = new Set((await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic_gate_%'")).map((r) => r.datname));
    const args = provider === 'local' ? ['--provider', 'local'] : ['--database-url', SERVER];
    const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', '/usr/bin/python3', ...args, '--format', 'json'], {
      cwd: repo.dir,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor('the migration to start', async () => {
      const rows = await query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ILIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()");
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      return provider === 'url' ? (rows[0]!.n > 0 ? true : null) : /postgres: postgres alembic_gate .*SELECT/.test(ps) ? true : null;
    });
    child.kill('SIGINT');
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    await waitFor('nothing left', async () => {
      const dbs = (await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic_gate_%'")).filter((r) => !before.has(r.datname));
      return dbs.length === 0 && leftovers(tmp).length === 0 && readdirSync(tmp).length === 0 ? true : null;
    }, 5_000);
  });
});

describe('a server that dies under the gate', () => {
  it('local provider, postmaster killed during a migration: exit 2 with a message, and nothing left', async () => {
    const repo = await makeFixtureRepo('hangs');
    const tmp = mkdtempSync(join(tmpdir(), 'ag-killed-server-'));
    chmodSync(tmp, 0o755);
    cleanups.push(() => repo.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
    const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', '/usr/bin/python3', '--provider', 'local', '--format', 'json'], {
      cwd: repo.dir,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const postmaster = await waitFor('the migration to start', () => {
      const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
      if (!/postgres: postgres alembic_gate .*SELECT/.test(ps)) return null;
      const line = ps.split('\n').find((l) => l.includes(`postgres -D ${tmp}/`));
      return line ? Number(line.trim().split(/\s+/)[0]) : null;
    });
    process.kill(postmaster, 'SIGKILL');
    expect(await exited).toBe(2);
    expect(stderr).toMatch(/^alembic-gate: the gate lost its connection to the throwaway database during "round-trip d4e5f6a1b2c3 slow backfill" \(/m);
    expect(stderr).not.toMatch(/internal error|\n\s+at /);
    await waitFor('nothing left', () => (leftovers(tmp).length === 0 && readdirSync(tmp).length === 0 ? true : null), 5_000);
  });
});
