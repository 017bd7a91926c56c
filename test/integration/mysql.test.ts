// MySQL/MariaDB projects, end to end through the CLI with zero configuration: the engine comes
// from the project's mysql+pymysql:// URL, the gate starts its own MariaDB (the binaries on the
// machine) in a temp dir, and the project's own server (db.internal) is never reached.
// Fixtures: test/fixtures/mysql-* on the mysql-shop project (`alembic init`, revisions by
// `alembic revision --autogenerate` against a real MariaDB). Runs on both Python stacks (.ci/run).
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, Report } from '../../src/report/types.js';
import { makeFixtureRepo, type FixtureRepo } from '../helpers/fixture-repo.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';

const gateTempDirs = (dir: string) => new Set(readdirSync(dir).filter((n) => n.startsWith('alembic-gate-') && !n.startsWith('alembic-gate-fixture-')));
/** The gate's processes (Python workers, the MariaDB server) of runs whose TMPDIR is `dir`. */
const processesUnder = (dir: string): string[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
        const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
        return (cmd.includes('alembic-gate-worker') && env.includes(`TMPDIR=${dir}`)) || (/mariadbd|mysqld/.test(cmd) && cmd.includes(dir)) ? [cmd] : [];
      } catch {
        return [];
      }
    });

let privateTmp: string;
const repos: FixtureRepo[] = [];
beforeAll(() => {
  privateTmp = mkdtempSync(join(tmpdir(), 'ag-mysql-it-'));
  chmodSync(privateTmp, 0o755);
});
afterAll(async () => {
  for (const r of repos) await r.cleanup();
  rmSync(privateTmp, { recursive: true, force: true });
});

async function gate(name: string, args: string[] = []): Promise<CliResult> {
  const repo = await makeFixtureRepo(name);
  repos.push(repo);
  const r = await runCli(repo.dir, ['--base', 'main', '--python', PYTHON, ...args], { env: { TMPDIR: privateTmp } });
  expect([...gateTempDirs(privateTmp)], `${name}: temp dirs left`).toEqual([]);
  expect(processesUnder(privateTmp), `${name}: processes left`).toEqual([]);
  return r;
}

const explain = (r: CliResult) => `exit ${r.code}\n${r.stderr.slice(-3000)}\n${JSON.stringify(r.report?.checks, null, 1)?.slice(0, 4000)} ${r.report?.error ?? ''} ${JSON.stringify(r.report?.notices)}`;
const statuses = (report: Report) => Object.fromEntries(report.checks.map((c) => [c.id, c.status])) as Record<CheckId, string>;
const check = (report: Report, id: CheckId) => report.checks.find((c) => c.id === id)!;

function expectMysql(report: Report): void {
  expect(report.database.engine).toBe('mysql');
  expect(report.database.provider).toBe('local');
  expect(report.database.version).toMatch(/^\d+\.\d+\.\d+(-MariaDB)?$/);
}

describe('MySQL/MariaDB projects, zero configuration', () => {
  it('mysql-clean: a new table and an index round-trip on the gate\'s own MariaDB', async () => {
    const r = await gate('mysql-clean');
    expect(r.code, explain(r)).toBe(0);
    expectMysql(r.report!);
    expect(statuses(r.report!)).toMatchObject({ graph: 'pass', heads: 'pass', history: 'pass', upgrade: 'pass', roundtrip: 'pass', drift: 'pass' });
    const sql = r.report!.sql.find((s) => s.revision === '920d2db331f0')!;
    expect(sql.upgrade).toContain('CREATE TABLE tags (');
    expect(sql.upgrade).toContain('CREATE INDEX ix_notes_created_at ON notes (created_at);');
    // The skips say why; the footer names the server.
    expect(check(r.report!, 'locks').summary).toBe('needs lock introspection, which MySQL does not have');
    expect(check(r.report!, 'data')).toMatchObject({ status: 'pass', summary: '1 new revision adds no NOT NULL column without a default to an existing table (MySQL: from the schema; rows are not seeded yet)' });
    expect(r.report!.notices.filter((n) => /redirected/.test(n))).toEqual([]);
  });

  it('mysql-mysqldb: the mysqlclient driver the project names is the one its code uses, on the twin', async () => {
    const r = await gate('mysql-mysqldb');
    expect(r.code, explain(r)).toBe(0);
    expectMysql(r.report!);
    expect(statuses(r.report!)).toMatchObject({ upgrade: 'pass', roundtrip: 'pass', drift: 'pass' });
  });

  it('mysql-leaky-index: a downgrade that forgets its index is named', async () => {
    const r = await gate('mysql-leaky-index');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report!, 'roundtrip').findings[0]!.message).toBe('downgrade of 920d2db331f0 leaves index ix_notes_created_at on notes behind');
  });

  it('mysql-half-applied: a revision that fails halfway names what it left behind, and the walk goes on', async () => {
    const r = await gate('mysql-half-applied');
    expect(r.code, explain(r)).toBe(1);
    const f = check(r.report!, 'upgrade').findings;
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toMatch(/^upgrade of abf10a7a38d4 fails and leaves table tags and column notes\.tag_id behind \(MySQL does not roll back DDL\): /);
    expect(f[0]!.message).toMatch(/Can't create table|errno: 150|Foreign key constraint is incorrectly formed/);
  });

  it('mysql-alter-drops-not-null: alter_column without existing_nullable drops NOT NULL, and both the round trip and drift say so', async () => {
    const r = await gate('mysql-alter-drops-not-null');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report!, 'roundtrip').findings.map((f) => f.message)).toContain('downgrade of 7f1c2285db76: column users.name is nullable, was NOT NULL');
    expect(check(r.report!, 'drift').status).toBe('fail');
  });

  it('mysql-not-null-fill: NOT NULL columns without a default added to a table with rows are named, with what MySQL fills them with', async () => {
    const r = await gate('mysql-not-null-fill');
    expect(r.code, explain(r)).toBe(1);
    expect(statuses(r.report!)).toMatchObject({ upgrade: 'pass', roundtrip: 'pass', drift: 'pass', data: 'fail' });
    expect(check(r.report!, 'data').summary).toBe("2 columns added NOT NULL without a default to existing tables: MySQL fills their rows with implicit defaults");
    expect(check(r.report!, 'data').findings.map((f) => f.message)).toEqual([
      'upgrade of c933be1ec141 adds users.karma (int(11)) NOT NULL without a default to users, which exists: MySQL does not fail on the rows production has, it fills them with 0',
      "upgrade of c933be1ec141 adds users.nickname (varchar(40)) NOT NULL without a default to users, which exists: MySQL does not fail on the rows production has, it fills them with ''",
    ]);
  });

  it('mysql-drift: a model column without a migration fails drift', async () => {
    const r = await gate('mysql-drift');
    expect(r.code, explain(r)).toBe(1);
    expect(r.report!.drift.operations.map((o) => o.message)).toEqual(['model has column users.bio (TEXT); the migrated schema does not']);
  });

  it('mysql-fulltext: a FULLTEXT index round-trips and is seen as FULLTEXT', async () => {
    const r = await gate('mysql-fulltext');
    expect(r.code, explain(r)).toBe(0);
    expect(statuses(r.report!)).toMatchObject({ upgrade: 'pass', roundtrip: 'pass', drift: 'pass' });
    expect(r.report!.sql.find((s) => s.revision === '2b6bcd30de7e')!.upgrade).toContain('CREATE FULLTEXT INDEX ix_notes_body_fulltext ON notes (body);');
  });
});
