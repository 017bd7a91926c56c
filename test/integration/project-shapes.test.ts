// Project shapes real teams have, end to end through the CLI (as gate-cli.test.ts): Flask-Migrate
// projects, pyproject.toml configuration, irreversible revisions, custom version tables. Runs on
// both Python stacks (.ci/run); where a shape needs a newer Alembic than the stack has, the test
// asserts the message that says so instead.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, Finding, Report } from '../../src/report/types.js';
import { makeFixtureRepo, type FixtureRepo } from '../helpers/fixture-repo.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';
const SERVER = process.env.ALEMBIC_GATE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const serverUrl = new URL(SERVER);
const admin = { host: serverUrl.hostname, port: Number(serverUrl.port || 5432), user: decodeURIComponent(serverUrl.username || 'postgres'), database: 'postgres' };

/** The Alembic version of the stack under test (PYTHONPATH picks the stack). */
const ALEMBIC = spawnSync(PYTHON, ['-c', 'import alembic; print(alembic.__version__)'], { encoding: 'utf8' }).stdout.trim();
const [major, minor] = ALEMBIC.split('.').map(Number) as [number, number];
const HAS_PYPROJECT = major > 1 || (major === 1 && minor >= 16);

async function gateDatabases(): Promise<Set<string>> {
  const client = new pg.Client(admin);
  await client.connect();
  try {
    return new Set((await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic\\_gate\\_%'")).rows.map((r) => r.datname));
  } finally {
    await client.end();
  }
}
const gateTempDirs = (dir: string) => new Set(readdirSync(dir).filter((n) => n.startsWith('alembic-gate-') && !n.startsWith('alembic-gate-fixture-')));

let privateTmp: string;
const repos: FixtureRepo[] = [];
beforeAll(() => {
  privateTmp = mkdtempSync(join(tmpdir(), 'ag-shapes-it-'));
  chmodSync(privateTmp, 0o755);
});
afterAll(async () => {
  for (const r of repos) await r.cleanup();
  rmSync(privateTmp, { recursive: true, force: true });
});

async function gate(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const repo = await makeFixtureRepo(name);
  repos.push(repo);
  const tempBefore = gateTempDirs(privateTmp);
  const dbBefore = await gateDatabases();
  const r = await runCli(repo.dir, ['--base', 'main', '--python', PYTHON, '--database-url', SERVER, ...args], { env: { TMPDIR: privateTmp, ...env } });
  expect([...gateTempDirs(privateTmp)].filter((n) => !tempBefore.has(n)), `${name}: temp dirs left`).toEqual([]);
  let left = [...(await gateDatabases())].filter((n) => !dbBefore.has(n));
  if (left.length) {
    await new Promise((r) => setTimeout(r, 3000)); // another run on the same server
    const still = await gateDatabases();
    left = left.filter((n) => still.has(n));
  }
  expect(left, `${name}: databases left`).toEqual([]);
  return r;
}

function explain(r: CliResult): string {
  const checks = r.report?.checks.map((c) => `${c.id}=${c.status} (${c.summary})${c.findings.map((f) => `\n    - ${f.message}`).join('')}`).join('\n  ');
  return `exit ${r.code}\nerror: ${r.report?.error ?? ''}\nchecks:\n  ${checks ?? '(no report)'}\nstderr: ${r.stderr.slice(0, 2000)}`;
}
const check = (report: Report, id: CheckId) => report.checks.find((x) => x.id === id)!;
const failing = (report: Report | undefined) => (report?.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.id).sort();
const messages = (findings: Finding[]) => findings.map((f) => f.message).join('\n');

function expectFailed(r: CliResult, ids: CheckId[]): Report {
  expect(r.code, explain(r)).toBe(1);
  expect(failing(r.report), explain(r)).toEqual([...ids].sort());
  return r.report!;
}
function expectPassed(r: CliResult): Report {
  expect(r.code, explain(r)).toBe(0);
  expect(failing(r.report), explain(r)).toEqual([]);
  return r.report!;
}

describe('Flask-Migrate projects (flask db init / migrate, no ./alembic.ini)', () => {
  it('flask-migrate: migrations/alembic.ini is found, the app is built from app.py create_app(); only locks fails (the plain index build flask db migrate wrote)', async () => {
    const report = expectFailed(await gate('flask-migrate'), ['locks']);
    expect(check(report, 'locks').findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([
      expect.stringMatching(/^upgrade of 2b3c4d5e6f7a: CREATE INDEX ix_books_isbn on books takes a SHARE lock for the whole build/),
    ]);
    expect(report.config.alembicConfig).toBe('migrations/alembic.ini');
    expect(report.base.heads).toEqual(['1a2b3c4d5e6f']);
    expect(report.head.heads).toEqual(['2b3c4d5e6f7a']);
    expect(check(report, 'roundtrip').summary).toMatch(/^1 revision round-trips cleanly/);
    expect(check(report, 'drift').status).toBe('pass');
    expect(report.sql.find((s) => s.revision === '2b3c4d5e6f7a')?.upgrade).toContain('CREATE INDEX ix_books_isbn');
  });

  it('flask-migrate-leaky: a downgrade that forgets books.isbn fails roundtrip naming it', async () => {
    const report = expectFailed(await gate('flask-migrate-leaky'), ['locks', 'roundtrip']);
    const rt = check(report, 'roundtrip');
    expect(messages(rt.findings)).toContain('downgrade of 2b3c4d5e6f7a leaves column books.isbn behind');
    expect(rt.findings[0]!.file).toBe('migrations/versions/2b3c4d5e6f7a_books_isbn.py');
    expect(check(report, 'drift').status).toBe('pass'); // the rebuilt database is at the head
  });

  it('flask-migrate-drift: a model column without a migration fails drift', async () => {
    const report = expectFailed(await gate('flask-migrate-drift'), ['drift', 'locks']);
    expect(messages(check(report, 'drift').findings)).toContain('model has column authors.email (VARCHAR(200)); the migrated schema does not');
  });

  it('--flask-app names an app that does not exist: a setup message naming FLASK_APP and --flask-app', async () => {
    const r = await gate('flask-migrate', ['--flask-app', 'nowhere:create_app']);
    expect(r.code, explain(r)).toBe(2);
    expect(r.report!.error).toMatch(/could not find the Flask app .*nowhere.*set FLASK_APP .* --flask-app/);
    expect(r.report!.error).not.toMatch(/internal error|Traceback/);
  });
});

describe('multidb (alembic init -t multidb: one database per ini section)', () => {
  // The fixture's ini names production hosts (db.internal, audit-db.internal) that do not
  // resolve here: a run that reached either would fail. Every section gets a twin of its own.
  it('multidb: each section is its own twin; locks names the table of each database (app.users, audit.events)', async () => {
    const report = expectFailed(await gate('multidb'), ['locks']);
    const locks = check(report, 'locks').findings;
    expect(locks.map((f) => f.severity)).toEqual(['warning', 'error']);
    expect(locks[0]!.message).toContain('takes an ACCESS EXCLUSIVE lock on app.users with no lock_timeout');
    expect(locks[1]!.message).toMatch(/^upgrade of 2b3c4d5e6f7a: CREATE INDEX ix_events_user_id_at on audit\.events takes a SHARE lock for the whole build/);
    expect(check(report, 'roundtrip').summary).toBe('1 revision round-trips cleanly (upgrade, downgrade, upgrade)');
    expect(check(report, 'data').summary).toMatch(/^1 new revision keeps the rows of 2 tables \(10 synthetic rows in 2 tables/);
    expect(check(report, 'compat').summary).toBe("the base's models work on the upgraded schema (2 tables: select, insert, update)");
    const sql = report.sql.find((x) => x.revision === '2b3c4d5e6f7a')!;
    expect(sql.upgrade).toBe(
      '-- database app\n\nALTER TABLE users ADD COLUMN display_name VARCHAR(100);\n\n' +
        "UPDATE alembic_version SET version_num='2b3c4d5e6f7a' WHERE alembic_version.version_num = '1a2b3c4d5e6f';\n\n" +
        '-- database audit\n\nCREATE INDEX ix_events_user_id_at ON events (user_id, at);\n\n' +
        "UPDATE alembic_version SET version_num='2b3c4d5e6f7a' WHERE alembic_version.version_num = '1a2b3c4d5e6f';",
    );
    expect(report.notices.filter((n) => /redirect/.test(n))).toEqual([]);
  });

  it("multidb-leaky: audit's downgrade forgets its index: a roundtrip finding naming the audit database", async () => {
    const report = expectFailed(await gate('multidb-leaky'), ['locks', 'roundtrip']);
    expect(check(report, 'roundtrip').findings.map((f) => f.message.split('\n')[0])).toEqual([
      'downgrade of 2b3c4d5e6f7a leaves index audit.ix_events_user_id_at on audit.events behind',
      're-upgrade of 2b3c4d5e6f7a after its downgrade fails: audit: sqlalchemy.exc.ProgrammingError: (psycopg2.errors.DuplicateTable) relation "ix_events_user_id_at" already exists',
    ]);
  });

  it('multidb-drift: models changed in both databases without a migration: drift names each section and suggests both functions', async () => {
    const report = expectFailed(await gate('multidb-drift'), ['drift']);
    expect(check(report, 'drift').findings.map((f) => f.message)).toEqual([
      'app: model has column users.display_name (VARCHAR(100)); the migrated schema does not',
      'audit: model has index ix_events_user_id_at on events (user_id, at); the migrated schema does not',
    ]);
    expect(report.drift?.suggestedMigration).toBe(
      'def upgrade_app() -> None:\n    # ### commands auto generated by Alembic - please adjust! ###\n' +
        "    op.add_column('users', sa.Column('display_name', sa.String(length=100), nullable=True))\n    # ### end Alembic commands ###\n\n" +
        'def upgrade_audit() -> None:\n    # ### commands auto generated by Alembic - please adjust! ###\n' +
        "    op.create_index('ix_events_user_id_at', 'events', ['user_id', 'at'], unique=False)\n    # ### end Alembic commands ###\n",
    );
  });

  it("multidb-upgrade-fails: a foreign key from audit.events to app's users fails, as it does across two real databases", async () => {
    const report = expectFailed(await gate('multidb-upgrade-fails'), ['upgrade']);
    expect(check(report, 'upgrade').findings[0]!.message.split('\n')[0]).toBe(
      'upgrade of 2b3c4d5e6f7a fails: audit: sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedTable) relation "users" does not exist',
    );
  });
});

describe('irreversible revisions', () => {
  it('irreversible: no downgrade() and a downgrade that raises first fail roundtrip as irreversible, naming --allow-irreversible', async () => {
    const report = expectFailed(await gate('irreversible'), ['roundtrip']);
    const rt = check(report, 'roundtrip');
    expect(rt.findings.map((f) => f.revision)).toEqual(['d4e5f6a1b2c3', 'e5f6a1b2c3d4', 'f6a1b2c3d4e5']);
    expect(rt.findings[0]!.message).toBe('d4e5f6a1b2c3 is irreversible: it has no downgrade(). If the project never downgrades, pass --allow-irreversible (action input allow-irreversible)');
    expect(rt.findings[1]!.message).toMatch(/^e5f6a1b2c3d4 is irreversible: its downgrade\(\) raises RuntimeError: Cannot downgrade: restore from a backup instead before touching the database \(migrations\/versions\/e5f6a1b2c3d4_order_totals_view.py line 21\)/);
    expect(rt.findings[1]!.line).toBe(21);
    // A downgrade that changed the database before raising is a broken downgrade, not a policy.
    expect(rt.findings[2]!.message).toBe('downgrade of f6a1b2c3d4e5 fails: RuntimeError: forgot to finish this downgrade');
    expect(report.notices.join('\n')).not.toMatch(/SQL preview is incomplete/);
  });

  it('irreversible --allow-irreversible: notices for the two, the walk goes on, the broken downgrade still fails', async () => {
    const report = expectFailed(await gate('irreversible', ['--allow-irreversible']), ['roundtrip']);
    const rt = check(report, 'roundtrip');
    expect(rt.findings.map((f) => f.revision)).toEqual(['f6a1b2c3d4e5']);
    expect(rt.summary).toBe('1 of 2 revisions does not round-trip cleanly; 2 irreversible (allowed)');
    expect(report.notices.filter((n) => /is irreversible/.test(n)).map((n) => n.split(' ')[0])).toEqual(['d4e5f6a1b2c3', 'e5f6a1b2c3d4']);
    const steps = (rev: string) => report.revisions.find((x) => x.revision === rev)!.steps;
    expect(steps('d4e5f6a1b2c3').downgrade?.status).toBe('skipped');
    expect(steps('e5f6a1b2c3d4').downgrade?.status).toBe('skipped');
    expect(steps('f6a1b2c3d4e5').upgrade?.status).toBe('ok');
    expect(check(report, 'drift').status).toBe('pass');
  });
});

describe('version tables', () => {
  it('version-table: env.py creates schema app for its version table app.schema_migrations; a walk from empty blames neither on the first revision', async () => {
    const report = expectPassed(await gate('version-table', ['--roundtrip', 'all']));
    expect(check(report, 'roundtrip').summary).toMatch(/^3 revisions round-trip cleanly/);
    expect(report.revisions.flatMap((r) => r.differences)).toEqual([]);
  });

  it('version-table: base -> head passes too', async () => {
    expectPassed(await gate('version-table'));
  });
});

describe('pyproject.toml configuration (alembic init -t pyproject)', () => {
  const needs = /pyproject\.toml configures Alembic in \[tool\.alembic\], which needs Alembic 1\.16 or later; .* has Alembic 1\.\d+/;
  for (const args of [[], ['--config', 'pyproject.toml']]) {
    const how = args.length ? '--config pyproject.toml' : 'found by default (alembic.ini has no script_location)';
    it(`pyproject: ${how}: ${HAS_PYPROJECT ? 'passes' : 'says which Alembic version is needed'} (Alembic ${ALEMBIC})`, async () => {
      const r = await gate('pyproject', args);
      if (!HAS_PYPROJECT) {
        expect(r.code, explain(r)).toBe(2);
        expect(r.report!.error).toMatch(needs);
        return;
      }
      const report = expectPassed(r);
      expect(report.config.alembicConfig).toBe('pyproject.toml');
      expect(report.head.heads).toEqual(['c3d4e5f6a1b2']);
      expect(check(report, 'drift').status).toBe('pass');
    });
  }
});

describe('histories that do not start from an empty database (--bootstrap)', () => {
  it('bootstrap: without --bootstrap the gate stops, naming the revision, the database error and --bootstrap', async () => {
    const r = await gate('bootstrap');
    expect(r.code, explain(r)).toBe(2);
    expect(r.report!.error).toMatch(/the base's own migrations \(\w{12}\) fail on an empty database.*revision 0a1b2c3d4e5f: .*relation "users" does not exist/s);
    expect(r.report!.error).toMatch(/pass --bootstrap models .* or --bootstrap path\/to\/schema\.sql/);
  });

  it('bootstrap --bootstrap models: the base models are created and stamped; the new revision round-trips', async () => {
    const report = expectPassed(await gate('bootstrap', ['--bootstrap', 'models']));
    expect(report.notices.join('\n')).toMatch(/--bootstrap models: the base's models were created/);
    expect(check(report, 'roundtrip').summary).toMatch(/^1 revision round-trips cleanly/);
    // Stamped at the base's head: had 0a1b2c3d4e5f run on the models' tables it would fail (users.email exists).
  });

  it('bootstrap --bootstrap schema.sql: a real pg_dump --schema-only (with its \\restrict lines) loads, the base history runs on top', async () => {
    const report = expectPassed(await gate('bootstrap', ['--bootstrap', 'schema.sql']));
    expect(report.notices.join('\n')).toMatch(/--bootstrap schema\.sql: the base's migrations were applied on top/);
    expect(check(report, 'drift').status).toBe('pass');
  });

  it('--bootstrap with a file that does not exist is a usage error naming it', async () => {
    const r = await gate('bootstrap', ['--bootstrap', 'nope.sql']);
    expect(r.code, explain(r)).toBe(2);
    expect(r.report!.error).toMatch(/--bootstrap: no such file .*nope\.sql; pass `models` or the path of a schema-only SQL dump/);
  });
});
