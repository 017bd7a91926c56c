// SQLite projects, end to end through the CLI: the engine comes from the project's own
// sqlite:/// URL, every database is a throwaway file in the gate's temp dir, and the project's
// own app.db is never created. Fixtures: test/fixtures/sqlite-* on the sqlite-notes project
// (`alembic init`, revisions by `alembic revision --autogenerate`; batch-env adds
// render_as_batch=True). Runs on both Python stacks (.ci/run).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, Report } from '../../src/report/types.js';
import { ENGINES } from '../../src/engines/index.js';
import { makeFixtureRepo, type FixtureRepo } from '../helpers/fixture-repo.js';
import { cliPath, runCli, type CliResult } from '../helpers/run-cli.js';

const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';
const SQLITE_VERSION = spawnSync(PYTHON, ['-c', 'import sqlite3; print(sqlite3.sqlite_version)'], { encoding: 'utf8' }).stdout.trim();

const gateTempDirs = (dir: string) => new Set(readdirSync(dir).filter((n) => n.startsWith('alembic-gate-') && !n.startsWith('alembic-gate-fixture-')));
/** The gate's Python processes (workers, the SQLite reader) of runs whose TMPDIR is `dir`. */
const processesUnder = (dir: string): string[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
        const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
        return cmd.includes('alembic-gate-worker') && env.includes(`TMPDIR=${dir}`) ? [cmd] : [];
      } catch {
        return []; // gone meanwhile
      }
    });

let privateTmp: string;
const repos: FixtureRepo[] = [];
beforeAll(() => {
  privateTmp = mkdtempSync(join(tmpdir(), 'ag-sqlite-it-'));
  chmodSync(privateTmp, 0o755);
});
afterAll(async () => {
  for (const r of repos) await r.cleanup();
  rmSync(privateTmp, { recursive: true, force: true });
});

interface Run extends CliResult {
  repo: FixtureRepo;
}

async function gate(name: string, args: string[] = []): Promise<Run> {
  const repo = await makeFixtureRepo(name);
  repos.push(repo);
  const r = await runCli(repo.dir, ['--base', 'main', '--python', PYTHON, ...args], { env: { TMPDIR: privateTmp } });
  // Nothing left behind: no temp dir (the throwaway files), no process, no app.db anywhere.
  expect([...gateTempDirs(privateTmp)], `${name}: temp dirs left`).toEqual([]);
  expect(processesUnder(privateTmp), `${name}: processes left`).toEqual([]);
  expect(existsSync(join(repo.dir, 'app.db')), `${name}: the project's own app.db was created`).toBe(false);
  return { ...r, repo };
}

const explain = (r: CliResult) => `exit ${r.code}\n${r.stderr.slice(-3000)}\n${JSON.stringify(r.report?.checks, null, 1)?.slice(0, 4000)} ${r.report?.error ?? ''}`;
const statuses = (report: Report) => Object.fromEntries(report.checks.map((c) => [c.id, c.status])) as Record<CheckId, string>;
const check = (report: Report, id: CheckId) => report.checks.find((c) => c.id === id)!;

/** What every SQLite run reports the same way: the engine, and the checks SQLite has no means for. */
function expectSqlite(report: Report): void {
  expect(report.database).toEqual({ engine: 'sqlite', version: SQLITE_VERSION, provider: 'file' });
  expect(check(report, 'locks')).toMatchObject({ status: 'skip', summary: 'needs lock introspection, which SQLite does not have' });
  expect(check(report, 'compat')).toMatchObject({ status: 'skip', summary: 'not available on SQLite yet' });
  expect(check(report, 'data')).toMatchObject({ status: 'skip', summary: 'not available on SQLite yet' });
}

describe('SQLite projects', () => {
  it('sqlite-clean: a new table and an index round-trip on SQLite; the comment and summary say SQLite', async () => {
    const r = await gate('sqlite-clean');
    expect(r.code, explain(r)).toBe(0);
    const report = r.report!;
    expectSqlite(report);
    expect(statuses(report)).toEqual({ graph: 'pass', heads: 'pass', history: 'pass', upgrade: 'pass', roundtrip: 'pass', drift: 'pass', data: 'skip', locks: 'skip', compat: 'skip' });
    expect(check(report, 'roundtrip').summary).toBe('1 revision round-trips cleanly (upgrade, downgrade, upgrade)');
    // The SQL preview is SQLite's own dialect.
    const sql = report.sql.find((s) => s.revision === '48c7bbddc78e')!;
    expect(sql.upgrade).toContain('CREATE TABLE tags');
    expect(sql.upgrade).toContain('CREATE INDEX ix_notes_created_at ON notes (created_at)');
    const md = await runCli(r.repo.dir, ['--base', 'main', '--python', PYTHON, '--format', 'markdown'], { env: { TMPDIR: privateTmp } });
    expect(md.stdout).toContain(`SQLite ${SQLITE_VERSION} (file)`);
    expect(md.stdout).not.toContain('PostgreSQL');
  });

  it('sqlite-batch-clean: a batch-mode rebuild of users (add column, NOT NULL, index) round-trips', async () => {
    const r = await gate('sqlite-batch-clean');
    expect(r.code, explain(r)).toBe(0);
    expectSqlite(r.report!);
    expect(statuses(r.report!)).toMatchObject({ upgrade: 'pass', roundtrip: 'pass', drift: 'pass' });
    // Batch mode renders no SQL offline (it reflects the table it copies): the preview shows
    // what the round trip ran, the copy and the move included, and says so.
    const sql = r.report!.sql.find((s) => s.revision === '240853cab8d0')!;
    expect(sql.error).toBeUndefined();
    expect(sql.upgrade).toMatch(/^CREATE TABLE _alembic_tmp_users \(/);
    expect(sql.upgrade).toContain('ALTER TABLE _alembic_tmp_users RENAME TO users;');
    expect(sql.upgrade).toContain('CREATE INDEX ix_users_name ON users (name);');
    expect(sql.upgrade).toContain("UPDATE alembic_version SET version_num='240853cab8d0' WHERE alembic_version.version_num = 'fc1f563bd1d1';");
    // The downgrade's copy leaves the index out: it goes with the old table.
    expect(sql.downgrade).toMatch(/^CREATE TABLE _alembic_tmp_users \(\n\tid INTEGER NOT NULL, \n\temail VARCHAR\(120\) NOT NULL, \n\tname VARCHAR\(80\), /);
    expect(sql.downgrade).toMatch(/DROP TABLE users;\nALTER TABLE _alembic_tmp_users RENAME TO users;\nUPDATE alembic_version SET version_num='fc1f563bd1d1' WHERE alembic_version.version_num = '240853cab8d0';$/);
    expect(r.report!.notices).toEqual([
      "the SQL preview of 240853cab8d0 shows the statements the round trip ran on SQLite: Alembic renders batch mode's table copy only against a live database, not with --sql",
    ]);
  });

  it('sqlite-leaky-index: a downgrade that forgets its index is named', async () => {
    const r = await gate('sqlite-leaky-index');
    expect(r.code, explain(r)).toBe(1);
    expectSqlite(r.report!);
    const [leak, again, ...rest] = check(r.report!, 'roundtrip').findings.map((f) => f.message);
    expect(leak).toBe('downgrade of 48c7bbddc78e leaves index ix_notes_created_at on notes behind');
    // Then the re-upgrade meets the index it creates: SQLite's own words.
    expect(again).toMatch(/^re-upgrade of 48c7bbddc78e after its downgrade fails: sqlalchemy\.exc\.OperationalError: \(sqlite3\.OperationalError\) index ix_notes_created_at already exists\n/);
    expect(rest).toEqual([]);
    // The walk rebuilt the database at the head: drift compares a database that is there.
    expect(check(r.report!, 'drift').status).toBe('pass');
  });

  it('sqlite-batch-not-null-leak: a batch downgrade that keeps users.name NOT NULL is named', async () => {
    const r = await gate('sqlite-batch-not-null-leak');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report!, 'roundtrip').findings.map((f) => f.message)).toEqual([
      'downgrade of 240853cab8d0: column users.name is NOT NULL, was nullable',
    ]);
  });

  it('sqlite-drift: a model column without a migration fails drift', async () => {
    const r = await gate('sqlite-drift');
    expect(r.code, explain(r)).toBe(1);
    expectSqlite(r.report!);
    expect(check(r.report!, 'drift')).toMatchObject({ status: 'fail', summary: 'models changed without a migration' });
    expect(r.report!.drift.operations).toEqual([{ kind: 'add_column', message: 'model has column users.bio (TEXT); the migrated schema does not', table: 'users', column: 'bio' }]);
  });

  it('sqlite-upgrade-fails: SQLite\'s own error names the revision and the missing table', async () => {
    const r = await gate('sqlite-upgrade-fails');
    expect(r.code, explain(r)).toBe(1);
    const f = check(r.report!, 'upgrade').findings;
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toMatch(/^upgrade of d46356cb120e fails: sqlalchemy\.exc\.OperationalError: \(sqlite3\.OperationalError\) no such table: archived_notes\n/);
    expect(f[0]!.file).toBe('migrations/versions/d46356cb120e_archive_old_notes.py');
  });

  it('sqlite-half-applied: a revision that fails after its CREATE TABLE names the table it leaves behind', async () => {
    const r = await gate('sqlite-half-applied');
    expect(r.code, explain(r)).toBe(1);
    const f = check(r.report!, 'upgrade').findings;
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toMatch(/^upgrade of d46356cb120e fails and leaves table note_archive behind \(SQLite does not roll back DDL\): sqlalchemy\.exc\.OperationalError: \(sqlite3\.OperationalError\) no such table: archived_notes\n/);
    // Rebuilt without it: drift is skipped for not reaching the head, nothing else is blamed.
    expect(statuses(r.report!)).toMatchObject({ upgrade: 'fail', roundtrip: 'skip', drift: 'skip' });
  });

  it('sqlite-alter-outside-batch: ALTER COLUMN fails upgrade with SQLite\'s error and the batch-mode hint', async () => {
    const r = await gate('sqlite-alter-outside-batch');
    expect(r.code, explain(r)).toBe(1);
    const f = check(r.report!, 'upgrade').findings;
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toMatch(/^upgrade of 41791f348244 fails: sqlalchemy\.exc\.OperationalError: \(sqlite3\.OperationalError\) near "ALTER": syntax error\n\[SQL: ALTER TABLE users ALTER COLUMN name SET NOT NULL\]/);
    expect(f[0]!.message).toContain('with op.batch_alter_table("<table>") as batch_op:');
    expect(f[0]!.message).toContain('render_as_batch=True');
    // The same revision passes on PostgreSQL, where ALTER COLUMN exists: --engine overrides the URL.
    const pg = await gate('sqlite-alter-outside-batch', ['--engine', 'postgresql', '--database-url', process.env.ALEMBIC_GATE_TEST_SERVER ?? 'postgresql://postgres@127.0.0.1:5432/postgres']);
    expect(pg.report!.database.engine, explain(pg)).toBe('postgresql');
    expect(check(pg.report!, 'upgrade').status, explain(pg)).toBe('pass');
  });

  it('flask-sqlite: a `flask db init` project on the tutorial\'s sqlite:///app.db is gated on SQLite; no instance/app.db appears', async () => {
    const r = await gate('flask-sqlite');
    expect(r.code, explain(r)).toBe(0);
    expectSqlite(r.report!);
    expect(statuses(r.report!)).toMatchObject({ upgrade: 'pass', roundtrip: 'pass', drift: 'pass' });
    expect(r.report!.config.alembicConfig).toBe('migrations/alembic.ini');
    expect(existsSync(join(r.repo.dir, 'instance', 'app.db'))).toBe(false);
  });

  it('sqlite-foreign-file: env.py\'s own sqlite:///production.db is redirected to the twin, or refused', async () => {
    const r = await gate('sqlite-foreign-file');
    expect(r.code, explain(r)).toBe(0);
    expect(r.report!.notices[0]).toBe('migrations/env.py opened sqlite:///production.db; redirected to its throwaway twin');
    expect(existsSync(join(r.repo.dir, 'production.db'))).toBe(false);
    const refused = await gate('sqlite-foreign-file', ['--foreign-connections', 'refuse']);
    expect(refused.code, explain(refused)).toBe(1);
    expect(check(refused.report!, 'upgrade').findings[0]!.message).toContain(
      "migrations/env.py tried to open sqlite:///production.db, which is not the gate's throwaway SQLite file; alembic-gate refused the connection (--foreign-connections refuse).",
    );
    expect(existsSync(join(refused.repo.dir, 'production.db'))).toBe(false);
  });

  it('sqlite-multidb: every ini section gets a throwaway file of its own; neither app.db nor audit.db appears', async () => {
    const r = await gate('sqlite-multidb');
    expect(r.code, explain(r)).toBe(0);
    expectSqlite(r.report!);
    expect(statuses(r.report!)).toMatchObject({ upgrade: 'pass', roundtrip: 'pass', drift: 'pass' });
    expect(existsSync(join(r.repo.dir, 'audit.db'))).toBe(false);
    // Each section's SQL, one after the other.
    const sql = r.report!.sql.find((s) => s.revision === 'e02f9203d844')!;
    expect(sql.upgrade).toContain('ALTER TABLE users ADD COLUMN display_name VARCHAR(80);');
    expect(sql.upgrade).toContain('CREATE INDEX ix_events_user_id_at ON events (user_id, at);');
  });

  it('sqlite-multidb-leaky: the section whose downgrade forgets its index is named', async () => {
    const r = await gate('sqlite-multidb-leaky');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report!, 'roundtrip').findings[0]!.message).toBe('downgrade of e02f9203d844 leaves index audit.ix_events_user_id_at on audit.events behind');
  });

  it('mssql-url: a SQL Server project is not silently tested on another engine; --engine postgresql runs it there', async () => {
    const r = await gate('mssql-url');
    expect(r.code, explain(r)).toBe(2);
    expect(r.report!.error).toBe(
      `the project's sqlalchemy.url names mssql (mssql+pyodbc://...), and alembic-gate has no mssql engine yet (it runs ${ENGINES.map((e) => e.name).join(', ').replace(/, ([^,]*)$/, ' and $1')}): pass --engine postgresql (action input engine) to test the migrations on PostgreSQL anyway`,
    );
    expect(r.stdout + r.stderr).not.toContain('secret');
    const pg = await gate('mssql-url', ['--engine', 'postgresql', '--database-url', process.env.ALEMBIC_GATE_TEST_SERVER ?? 'postgresql://postgres@127.0.0.1:5432/postgres']);
    expect(pg.code, explain(pg)).toBe(1); // locks: the index on notes is built without CONCURRENTLY
    expect(pg.report!.database.engine).toBe('postgresql');
    expect(Object.entries(statuses(pg.report!)).filter(([, v]) => v === 'fail')).toEqual([['locks', 'fail']]);
  });

  it('a --database-url given for PostgreSQL projects is not used, and the report says why', async () => {
    const r = await gate('sqlite-clean', ['--database-url', 'postgresql://postgres@127.0.0.1:5432/postgres']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.report!.notices).toContain(
      "provider url was not used: the project runs on SQLite, whose throwaway databases are files in the gate's temp dir (--database-url is for PostgreSQL projects)",
    );
  });
});

/** A throwaway file under `tmp` holds the table the hanging revision creates before it sleeps. */
function migrationSleeping(tmp: string): boolean {
  const dirs = readdirSync(tmp).filter((n) => n.startsWith('alembic-gate-sqlite-'));
  const files = dirs.flatMap((d) => readdirSync(join(tmp, d)).filter((f) => f.endsWith('.sqlite')).map((f) => join(tmp, d, f)));
  const probe = 'import sqlite3, sys\nfor f in sys.argv[1:]:\n    c = sqlite3.connect("file:%s?mode=ro" % f, uri=True)\n    if c.execute("SELECT 1 FROM sqlite_master WHERE name = \'archive_wait\'").fetchone(): print("yes")';
  return files.length > 0 && spawnSync(PYTHON, ['-c', probe, ...files], { encoding: 'utf8' }).stdout.includes('yes');
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a SQLite run that is stopped', () => {
  async function startHanging(label: string) {
    const repo = await makeFixtureRepo('sqlite-hangs');
    repos.push(repo);
    const tmp = mkdtempSync(join(privateTmp, `${label}-`));
    const child = spawn(process.execPath, [cliPath, 'check', '--base', 'main', '--python', PYTHON, '--format', 'json'], { cwd: repo.dir, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'ignore'] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    await until('the migration to start', () => migrationSleeping(tmp));
    expect(processesUnder(tmp).length, 'the worker and the reader are up').toBeGreaterThan(0);
    return { child, exited, tmp, repo };
  }

  it('SIGTERM during a migration: exit 143, the files, the worker and the reader gone', async () => {
    const g = await startHanging('term');
    g.child.kill('SIGTERM');
    expect((await g.exited).code).toBe(143);
    await until('every process to end', () => processesUnder(g.tmp).length === 0, 10_000);
    expect(readdirSync(g.tmp)).toEqual([]);
    expect(existsSync(join(g.repo.dir, 'app.db'))).toBe(false);
  });

  it('SIGKILL during a migration: the watchdog ends the worker and the reader and removes the files', async () => {
    const g = await startHanging('kill');
    g.child.kill('SIGKILL');
    expect((await g.exited).signal).toBe('SIGKILL');
    await until('the watchdog to clean up', () => processesUnder(g.tmp).length === 0 && readdirSync(g.tmp).length === 0, 10_000);
  });
});
