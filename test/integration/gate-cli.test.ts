// The CLI end to end, the way a user runs it: `node dist/cli.js check --format json` in a git
// repository built from a fixture (test/fixtures/<name>), real Alembic (Debian's
// /usr/bin/python3), real PostgreSQL at 127.0.0.1:5432 (the gate makes and drops its own
// database there). Each fixture plants one defect; each test asserts what the user sees: the
// exit status, the failing check ids, and findings that name the object at fault. After every
// run nothing may be left behind: no alembic-gate-* temp dir, no alembic_gate_* database.
//
// Build the bundle first: node scripts/build.mjs
import { mkdtempSync, readdirSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_IDS, type CheckId, type Finding, type Report } from '../../src/report/types.js';
import { makeFixtureRepo, type FixtureRepo } from '../helpers/fixture-repo.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';
const SERVER = process.env.ALEMBIC_GATE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const serverUrl = new URL(SERVER);
const admin = { host: serverUrl.hostname, port: Number(serverUrl.port || 5432), user: decodeURIComponent(serverUrl.username || 'postgres'), database: 'postgres' };

const NEW = 'c3d4e5f6a1b2'; // the shop PR's tickets revision
const BASE_HEAD = 'b2c3d4e5f6a1';

async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> {
  const client = new pg.Client({ ...admin, database });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const gateDatabases = async () => new Set((await query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'alembic\\_gate\\_%'")).map((r) => r.datname));
const migrationRoles = async () => new Set((await query<{ r: string }>("SELECT rolname AS r FROM pg_roles WHERE rolname LIKE 'alembic\\_gate\\_m\\_%'")).map((x) => x.r));
const gateTempDirs = (dir: string) => new Set(readdirSync(dir).filter((n) => n.startsWith('alembic-gate-') && !n.startsWith('alembic-gate-fixture-')));

/** Asserts that the run left nothing behind: temp dirs in `tmp`, databases on the server. */
async function expectNoLeftovers(tmp: string, tempBefore: Set<string>, dbBefore: Set<string>, rolesBefore: Set<string>, label: string): Promise<void> {
  const newTemp = [...gateTempDirs(tmp)].filter((n) => !tempBefore.has(n));
  expect(newTemp, `${label}: temp dirs left in ${tmp}`).toEqual([]);
  let newDbs = [...(await gateDatabases())].filter((n) => !dbBefore.has(n));
  if (newDbs.length) {
    // Someone else's gate may be running against the same server: give theirs time to go.
    await new Promise((r) => setTimeout(r, 3000));
    const still = await gateDatabases();
    newDbs = newDbs.filter((n) => still.has(n));
  }
  expect(newDbs, `${label}: databases left on ${admin.host}:${admin.port}`).toEqual([]);
  // The role the project's code connected as is the run's too.
  expect([...(await migrationRoles())].filter((r) => !rolesBefore.has(r)), `${label}: migration roles left on ${admin.host}:${admin.port}`).toEqual([]);
}

interface GateOpts {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Leave out --database-url (provider tests). */
  noDatabaseUrl?: boolean;
  /** Leave out --python. */
  noPython?: boolean;
  timeoutMs?: number;
  /** Use the machine's os.tmpdir() instead of a private TMPDIR (local provider). */
  sharedTmp?: boolean;
}

let privateTmp: string;
const repos: FixtureRepo[] = [];

beforeAll(() => {
  // Each run gets TMPDIR=<private dir>, so "nothing left in the temp dir" cannot be confused
  // by other processes on the machine. 0755: the local provider hands subdirs to a server user.
  privateTmp = mkdtempSync(join(tmpdir(), 'ag-cli-it-'));
  chmodSync(privateTmp, 0o755);
});
afterAll(async () => {
  for (const r of repos) await r.cleanup();
  rmSync(privateTmp, { recursive: true, force: true });
});

async function fixture(name: string): Promise<FixtureRepo> {
  const f = await makeFixtureRepo(name);
  repos.push(f);
  return f;
}

/** Runs the gate on a fixture repository and checks that it cleaned up after itself. */
async function gate(name: string | FixtureRepo, opts: GateOpts = {}): Promise<CliResult> {
  const repo = typeof name === 'string' ? await fixture(name) : name;
  const args = [
    '--base',
    'main',
    ...(opts.noPython ? [] : ['--python', PYTHON]),
    ...(opts.noDatabaseUrl ? [] : ['--database-url', SERVER]),
    ...(opts.args ?? []),
  ];
  const tmp = opts.sharedTmp ? tmpdir() : privateTmp;
  const tempBefore = gateTempDirs(tmp);
  const dbBefore = await gateDatabases();
  const rolesBefore = await migrationRoles();
  const r = await runCli(repo.dir, args, { env: { ...(opts.sharedTmp ? {} : { TMPDIR: privateTmp }), ...opts.env }, timeoutMs: opts.timeoutMs });
  await expectNoLeftovers(tmp, tempBefore, dbBefore, rolesBefore, typeof name === 'string' ? name : repo.dir);
  return r;
}

function explain(r: CliResult): string {
  const checks = r.report?.checks.map((c) => `${c.id}=${c.status} (${c.summary})${c.findings.map((f) => `\n    - ${f.message}`).join('')}`).join('\n  ');
  return `exit ${r.code}\nerror: ${r.report?.error ?? ''}\nchecks:\n  ${checks ?? '(no report)'}\nstderr: ${r.stderr.slice(0, 2000)}`;
}

const check = (report: Report | undefined, id: CheckId) => {
  const c = report?.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in the report`);
  return c;
};
const failing = (report: Report | undefined) => (report?.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.id).sort();
const messages = (findings: Finding[]) => findings.map((f) => f.message).join('\n');

/** A finished run that failed exactly these checks. */
function expectFailed(r: CliResult, ids: CheckId[]): Report {
  expect(r.report, explain(r)).toBeDefined();
  expect(r.code, explain(r)).toBe(1);
  expect(r.report!.status).toBe('fail');
  expect(failing(r.report), explain(r)).toEqual([...ids].sort());
  return r.report!;
}

function expectPassed(r: CliResult): Report {
  expect(r.report, explain(r)).toBeDefined();
  expect(r.code, explain(r)).toBe(0);
  expect(r.report!.status).toBe('pass');
  expect(failing(r.report), explain(r)).toEqual([]);
  return r.report!;
}

/** Could not run: exit 2 and a message (stderr) that names `what`. */
function expectCouldNotRun(r: CliResult, ...what: (string | RegExp)[]): string {
  expect(r.code, explain(r)).toBe(2);
  const text = `${r.stderr}\n${r.report?.error ?? ''}`;
  for (const w of what) expect(text).toMatch(typeof w === 'string' ? new RegExp(w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : w);
  // a user error reads as a sentence, not as our stack trace
  expect(text).not.toMatch(/internal error/);
  expect(text).not.toMatch(/\n\s+at .*\.js:\d+:\d+/);
  return text;
}

describe('alembic-gate check: verdicts', () => {
  it('clean: passes every check, with the report contract', async () => {
    const f = await fixture('clean');
    const r = await gate(f);
    const report = expectPassed(r);
    expect(report.schemaVersion).toBe(1);
    expect(report.base.sha).toBe(f.baseSha);
    expect(report.base.heads).toEqual([BASE_HEAD]);
    expect(report.head.sha).toBe(f.headSha);
    expect(report.head.heads).toEqual([NEW]);
    expect(report.database.engine).toBe('postgresql');
    expect(report.database.version).toMatch(/^\d+(\.\d+)?/);
    expect(report.database.provider).toBe('url');
    expect(report.checks.map((c) => c.id)).toEqual([...CHECK_IDS]);
    for (const c of report.checks) expect(c.status, c.id).toBe('pass');
    expect(report.revisions.map((x) => [x.revision, x.isNew])).toEqual([
      ['a1b2c3d4e5f6', false],
      [BASE_HEAD, false],
      [NEW, true],
    ]);
    const fresh = report.revisions.find((x) => x.revision === NEW)!;
    expect(fresh.file).toBe('migrations/versions/c3d4e5f6a1b2_add_tickets.py');
    expect(fresh.downRevisions).toEqual([BASE_HEAD]);
    expect(fresh.message).toBe('add tickets');
    expect(fresh.steps.upgrade?.status).toBe('ok');
    expect(fresh.steps.downgrade?.status).toBe('ok');
    expect(fresh.steps.reupgrade?.status).toBe('ok');
    expect(fresh.differences).toEqual([]);
    expect(report.timings.totalMs).toBeGreaterThan(0);
    const sql = report.sql.find((s) => s.revision === NEW);
    expect(sql?.upgrade).toContain('CREATE TABLE tickets');
    expect(sql?.downgrade).toContain('DROP TABLE tickets');
    expect(report.drift.suggestedMigration).toBeNull();
  });

  it('--roundtrip all: every revision (3) round-trips', async () => {
    const report = expectPassed(await gate('clean', { args: ['--roundtrip', 'all'] }));
    expect(report.revisions).toHaveLength(3);
    for (const rev of report.revisions) {
      expect(rev.steps.upgrade?.status, rev.revision).toBe('ok');
      expect(rev.steps.downgrade?.status, rev.revision).toBe('ok');
      expect(rev.steps.reupgrade?.status, rev.revision).toBe('ok');
    }
  });

  it('session-state: a step that leaves session settings and temp tables does not affect the next step', async () => {
    // The gate reuses one connection for consecutive steps; each step must still start from a
    // new session's state, as under `alembic upgrade`. A leaked search_path would put notes in
    // the scratch schema (drift would fail); a leaked temp table would fail the re-upgrade.
    const report = expectPassed(await gate('session-state', { args: ['--step-timeout', '20'] }));
    expect(check(report, 'roundtrip').summary).toMatch(/^2 revisions round-trip cleanly/);
    expect(check(report, 'drift').status).toBe('pass');
  });

  // Writing to pg_catalog is a superuser's right: these run with --migration-role superuser.
  it('catalog-write-hack: a correct downgrade that writes to the catalogs directly is not a false alarm', async () => {
    const report = expectPassed(await gate('catalog-write-hack', { args: ['--migration-role', 'superuser'] }));
    expect(check(report, 'roundtrip').summary).toMatch(/^1 revision round-trips cleanly/);
    expect(report.notices.join('\n')).not.toMatch(/redone/);
  });

  it('catalog-write-raw: a catalog write no event reports is still caught, and the run says it redid the round trips', async () => {
    const report = expectFailed(await gate('catalog-write-raw', { args: ['--migration-role', 'superuser'] }), ['data', 'roundtrip']);
    // With rows, the deleted label is worse than a schema difference: orders rows still use it.
    expect(check(report, 'data').findings[0]!.message).toMatch(/^after the downgrade of d4e5f6a1b2c3, the rows of the database cannot be read: invalid internal value for enum: \d+$/);
    const rt = check(report, 'roundtrip');
    expect(messages(rt.findings)).toContain("downgrade of d4e5f6a1b2c3: enum type order_status labels are (pending, paid), were (pending, paid, shipped)");
    expect(rt.findings.every((f) => f.revision === 'd4e5f6a1b2c3')).toBe(true);
    expect(report.notices.join('\n')).toMatch(/round trips were redone with whole snapshots/);
  });

  it('leaky-enum: the downgrade leaves the enum type behind', async () => {
    const report = expectFailed(await gate('leaky-enum'), ['roundtrip']);
    const rt = check(report, 'roundtrip');
    expect(messages(rt.findings)).toContain(`downgrade of ${NEW} leaves enum type ticket_status behind`);
    expect(rt.findings[0]!.revision).toBe(NEW);
    expect(rt.findings[0]!.file).toBe('migrations/versions/c3d4e5f6a1b2_add_tickets.py');
    expect(report.revisions.find((x) => x.revision === NEW)!.differences.join('\n')).toContain('ticket_status');
  });

  it('leaky-index: the downgrade leaves the index behind', async () => {
    const r = await gate('leaky-index');
    expect(r.code, explain(r)).toBe(1);
    const report = r.report!;
    expect(check(report, 'roundtrip').status).toBe('fail');
    expect(messages(check(report, 'roundtrip').findings)).toContain('downgrade of d4e5f6a1b2c3 leaves index ix_users_name on users behind');
    expect(check(report, 'roundtrip').findings[0]!.revision).toBe('d4e5f6a1b2c3');
  });

  it('leaky-index: a failed re-upgrade does not leave drift comparing a database that is not at the head', async () => {
    // The re-upgrade fails (the index exists) and rolls back: the schema equals the state after
    // the first upgrade, but alembic_version says the parent. The gate must notice and rebuild,
    // or drift fails with "Target database is not up to date".
    const report = (await gate('leaky-index')).report!;
    expect(check(report, 'drift').status, explain({ code: 1, stdout: '', stderr: '', report, ms: 0 })).toBe('pass');
  });

  it('leaky-nullability: the downgrade leaves users.name NOT NULL', async () => {
    // SET NOT NULL on an existing table also scans it under ACCESS EXCLUSIVE: locks says so.
    const report = expectFailed(await gate('leaky-nullability'), ['locks', 'roundtrip']);
    expect(check(report, 'locks').findings.map((f) => f.message)).toEqual([
      'upgrade of d4e5f6a1b2c3: `ALTER TABLE users ALTER COLUMN name SET NOT NULL` scans every row of users under an ACCESS EXCLUSIVE lock: reads and writes wait (locks/set-not-null-scan)',
    ]);
    const text = messages(check(report, 'roundtrip').findings);
    expect(text).toMatch(/users\.name/);
    expect(text).toMatch(/NOT NULL|nullab/);
  });

  it('leaky-type: the downgrade leaves users.name varchar(100)', async () => {
    const report = expectFailed(await gate('leaky-type'), ['roundtrip']);
    expect(messages(check(report, 'roundtrip').findings)).toContain('column users.name is varchar(100), was varchar(50)');
  });

  it('leaky-fk-action: the downgrade loses ON DELETE CASCADE', async () => {
    // Re-adding the foreign key validates it under SHARE ROW EXCLUSIVE on both tables: locks says so.
    const report = expectFailed(await gate('leaky-fk-action'), ['locks', 'roundtrip']);
    expect(check(report, 'locks').findings.filter((f) => f.severity === 'error').map((f) => f.message.replace(/^(\w+ of \w+): .* checks every row of (\w+) .*\((locks\/[a-z-]+)\)$/, '$1 $2 $3'))).toEqual([
      'upgrade of d4e5f6a1b2c3 users locks/validated-constraint',
      'upgrade of d4e5f6a1b2c3 orders locks/validated-constraint',
      'downgrade of d4e5f6a1b2c3 users locks/validated-constraint',
      'downgrade of d4e5f6a1b2c3 orders locks/validated-constraint',
    ]);
    const text = messages(check(report, 'roundtrip').findings);
    expect(text).toMatch(/foreign key orders_user_id_fkey .*lost ON DELETE CASCADE/);
    expect(text).toContain('orders');
  });

  it('two-heads: two new revisions on one parent fail heads, naming both and the fix', async () => {
    const report = expectFailed(await gate('two-heads'), ['heads']);
    const heads = check(report, 'heads');
    const text = `${heads.summary}\n${messages(heads.findings)}\n${heads.findings.map((f) => f.detail ?? '').join('\n')}`;
    expect(text).toContain('c3d4e5f6a1b2');
    expect(text).toContain('d4e5f6a1b2c3');
    expect(text).toContain('alembic merge heads');
    expect(report.head.heads.sort()).toEqual(['c3d4e5f6a1b2', 'd4e5f6a1b2c3']);
  });

  it('stale-base: main moved on; heads names both ids and the fix, history does not call it deleted', async () => {
    const r = await gate('stale-base');
    expect(r.code, explain(r)).toBe(1);
    const report = r.report!;
    expect(report.base.heads).toEqual(['d4e5f6a1b2c3']);
    const heads = check(report, 'heads');
    expect(heads.status).toBe('fail');
    const finding = heads.findings.find((f) => f.revision === NEW)!;
    expect(finding, explain(r)).toBeDefined();
    expect(finding.message).toContain(BASE_HEAD);
    expect(finding.message).toContain('d4e5f6a1b2c3');
    expect(finding.detail).toMatch(/alembic merge heads|down_revision = "d4e5f6a1b2c3"/);
    expect(check(report, 'history').status, explain(r)).toBe('pass');
    expect(messages(check(report, 'history').findings)).not.toContain('d4e5f6a1b2c3');
  });

  it('stale-base: the PR revision is not blamed for a revision only the newer base has', async () => {
    // The base (main, after the branch) is at d4e5f6a1b2c3, which the PR tree does not know; the
    // PR's own revision applies fine on its parent. "upgrade of c3d4e5f6a1b2 fails: Can't locate
    // revision identified by 'd4e5f6a1b2c3'" blames the wrong revision: heads already says why.
    const report = (await gate('stale-base')).report!;
    const upgrade = check(report, 'upgrade');
    expect(messages(upgrade.findings)).not.toMatch(/Can't locate revision/);
  });

  it('merge-revision: two branches and their merge: one head, all three round-trip', async () => {
    const report = expectPassed(await gate('merge-revision'));
    expect(report.head.heads).toEqual(['e5f6a1b2c3d4']);
    const fresh = report.revisions.filter((x) => x.isNew);
    expect(fresh.map((x) => x.revision).sort()).toEqual(['c3d4e5f6a1b2', 'd4e5f6a1b2c3', 'e5f6a1b2c3d4']);
    for (const rev of fresh) {
      expect(rev.steps.upgrade?.status, rev.revision).toBe('ok');
      expect(rev.steps.downgrade?.status, rev.revision).toBe('ok');
      expect(rev.steps.reupgrade?.status, rev.revision).toBe('ok');
    }
    expect(fresh.find((x) => x.revision === 'e5f6a1b2c3d4')!.downRevisions.sort()).toEqual(['c3d4e5f6a1b2', 'd4e5f6a1b2c3']);
  });

  it('edited-history: editing a base revision upgrade() fails history, naming it and its file', async () => {
    const r = await gate('edited-history');
    expect(r.code, explain(r)).toBe(1);
    const history = check(r.report, 'history');
    expect(history.status).toBe('fail');
    expect(history.findings).toHaveLength(1);
    expect(history.findings[0]!.revision).toBe(BASE_HEAD);
    expect(history.findings[0]!.file).toBe('migrations/versions/b2c3d4e5f6a1_create_orders.py');
    expect(history.findings[0]!.message).toContain(BASE_HEAD);
    expect(history.findings[0]!.message).toContain('migrations/versions/b2c3d4e5f6a1_create_orders.py');
    expect(history.findings[0]!.message).toContain('upgrade()');
  });

  it('comment-only-edit: comments, whitespace and docstrings in a base revision are not edits', async () => {
    expectPassed(await gate('comment-only-edit'));
  });

  it('history-cosmetic: u\'\' prefixes, import order, unused imports and SQL re-indentation are not edits', async () => {
    expectPassed(await gate('history-cosmetic'));
  });

  it('history-module-edit: editing a module-level helper that upgrade() calls is an edit of upgrade()', async () => {
    const r = await gate('history-module-edit');
    expect(r.code, explain(r)).toBe(1);
    const history = check(r.report, 'history');
    expect(history.findings).toHaveLength(1);
    expect(history.findings[0]!.message).toContain('edits its upgrade():');
    expect(history.findings[0]!.detail).toContain(`+     op.execute("COMMENT ON FUNCTION order_total(orders) IS 'cents'")`);
  });

  it('history-sql-edit: a changed PL/pgSQL body in a module-level constant edits both functions, with the diff', async () => {
    const r = await gate('history-sql-edit');
    expect(r.code, explain(r)).toBe(1);
    const history = check(r.report, 'history');
    expect(history.findings).toHaveLength(1);
    expect(history.findings[0]!.message).toContain('edits its upgrade() and downgrade()');
    const detail = history.findings[0]!.detail!;
    expect(detail).toContain('upgrade() and the code it uses, base -> this change:');
    expect(detail).toMatch(/^- FUNCTIONS = \{'order_total': 'CREATE FUNCTION .* RETURN o\.total_cents; END \$\$'\}$/m);
    expect(detail).toMatch(/^\+ FUNCTIONS = \{'order_total': 'CREATE FUNCTION .* RETURN o\.total_cents \/ 100; END \$\$'\}$/m);
  });

  it('renamed-file: renaming a base revision file is fine', async () => {
    const report = expectPassed(await gate('renamed-file'));
    expect(report.revisions.find((x) => x.revision === BASE_HEAD)!.file).toBe('migrations/versions/b2c3d4e5f6a1_orders_table.py');
  });

  it('deleted-revision: deleting a base revision fails history', async () => {
    const r = await gate('deleted-revision');
    expect(r.code, explain(r)).toBe(1);
    const history = check(r.report, 'history');
    expect(history.status).toBe('fail');
    expect(messages(history.findings)).toMatch(/b2c3d4e5f6a1 .*is deleted/);
    expect(history.findings[0]!.file).toBe('migrations/versions/b2c3d4e5f6a1_create_orders.py');
  });

  it('base-config-broken: a base whose alembic.ini does not load is named with repository paths, not the export', async () => {
    const r = await gate('base-config-broken');
    const text = expectCouldNotRun(r);
    expect(r.report!.error).toMatch(/^the base \([0-9a-f]{12}\) revision scripts do not load, so the PR cannot be compared with it: alembic\.util\.exc\.CommandError: Path doesn't exist: '?migrationz'?\. Fix the base branch first, or pass --base a commit whose alembic\.ini loads\.$/);
    expect(text).not.toContain('alembic-gate-base-');
  });

  it('syntax-error: graph fails naming the file and line; exit 1, other checks skip', async () => {
    const repo = await fixture('syntax-error');
    const report = expectFailed(await gate(repo), ['graph']);
    const g = check(report, 'graph');
    // Paths as the repository names them: not where this run's checkout happens to be.
    expect(JSON.stringify(report)).not.toContain(repo.dir);
    expect(g.findings[0]!.detail).toMatch(/^File "migrations\/versions\/d4e5f6a1b2c3_broken\.py", line 16\n/);
    expect(g.findings[0]!.file).toBe('migrations/versions/d4e5f6a1b2c3_broken.py');
    expect(g.findings[0]!.line).toBe(16);
    expect(g.findings[0]!.message).toContain('migrations/versions/d4e5f6a1b2c3_broken.py line 16');
    for (const id of CHECK_IDS.filter((c) => c !== 'graph')) expect(check(report, id).status).toBe('skip');
  });

  it('hostile-message: the message is carried verbatim in the JSON report', async () => {
    const report = expectPassed(await gate('hostile-message'));
    expect(report.revisions.find((x) => x.revision === NEW)!.message).toContain('<script>alert(1)</script> @octocat | ```');
  });

  it('drift-missing-migration: a model column without a migration fails drift with the suggested migration', async () => {
    const report = expectFailed(await gate('drift-missing-migration'), ['drift']);
    const drift = check(report, 'drift');
    expect(drift.summary).toBe('models changed without a migration');
    expect(messages(drift.findings)).toContain('users.nickname');
    expect(report.drift.operations.some((o) => o.kind === 'add_column' && o.column === 'nickname')).toBe(true);
    expect(report.drift.suggestedMigration).toContain("op.add_column('users'");
    expect(report.drift.suggestedMigration).toContain('nickname');
  });

  it('drift-server-default-compared: env.py compares server defaults, so a default mismatch is drift', async () => {
    const report = expectFailed(await gate('drift-server-default-compared'), ['drift']);
    const text = messages(check(report, 'drift').findings);
    expect(text).toContain('users.country');
    expect(text).toMatch(/server default/);
  });

  it('drift-server-default-ignored: the default env.py does not compare server defaults', async () => {
    expectPassed(await gate('drift-server-default-ignored'));
  });

  it("drift-include-object: a table env.py's include_object leaves out is not drift", async () => {
    const report = expectPassed(await gate('drift-include-object'));
    expect(check(report, 'drift').status).toBe('pass');
  });

  it('no-target-metadata: drift is skipped with a reason', async () => {
    const report = expectPassed(await gate('no-target-metadata'));
    const drift = check(report, 'drift');
    expect(drift.status).toBe('skip');
    expect(drift.summary).toMatch(/target_metadata/);
  });

  it('noisy-output: prints and raw writes to stdout from env.py do not corrupt the protocol', async () => {
    const report = expectPassed(await gate('noisy-output'));
    expect(report.revisions.find((r) => r.revision === NEW)?.steps.reupgrade?.status).toBe('ok');
  });

  it('no-offline-mode: an env.py without offline support gets a notice and an SQL error, not a failure', async () => {
    const report = expectPassed(await gate('no-offline-mode'));
    const preview = report.sql.find((s) => s.revision === NEW);
    expect(preview?.upgrade).toBeNull();
    expect(preview?.error).toMatch(/offline mode is not supported/);
    expect(report.notices.join('\n')).toMatch(/SQL preview is incomplete/);
  });

  it('prd-empties: a process_revision_directives that empties the directives cannot hide drift', async () => {
    const report = expectFailed(await gate('prd-empties'), ['drift']);
    expect(messages(check(report, 'drift').findings)).toContain('users.nickname');
    expect(report.notices.join('\n')).toMatch(/process_revision_directives removed what autogenerate found/);
  });

  it('prd-raises: a process_revision_directives that raises fails drift naming the hook', async () => {
    const report = expectFailed(await gate('prd-raises'), ['drift']);
    const drift = check(report, 'drift');
    expect(drift.summary).toMatch(/process_revision_directives raised/);
    expect(drift.findings[0]?.file).toBe('migrations/env.py');
    expect(drift.findings[0]?.message).toMatch(/KeyError/);
  });

  it('models-missing-schema: a model in a schema no migration creates is drift naming it', async () => {
    const report = expectFailed(await gate('models-missing-schema'), ['drift']);
    expect(messages(check(report, 'drift').findings)).toContain('audit.events');
  });

  it('downgrade-raises: the first revision fails roundtrip by name, the second still round-trips', async () => {
    const report = expectFailed(await gate('downgrade-raises'), ['roundtrip']);
    const rt = check(report, 'roundtrip');
    expect(rt.findings.map((f) => f.revision)).toEqual(['d4e5f6a1b2c3']);
    expect(rt.findings[0]!.message).toMatch(/^d4e5f6a1b2c3 is irreversible: its downgrade\(\) raises NotImplementedError: coupons cannot be removed before touching the database .*pass --allow-irreversible/);
    expect(rt.findings[0]!.file).toBe('migrations/versions/d4e5f6a1b2c3_add_coupons.py');
    const second = report.revisions.find((x) => x.revision === 'e5f6a1b2c3d4')!;
    expect(second.steps.upgrade?.status).toBe('ok');
    expect(second.steps.downgrade?.status).toBe('ok');
    expect(second.steps.reupgrade?.status).toBe('ok');
    expect(report.revisions.find((x) => x.revision === 'd4e5f6a1b2c3')!.steps.downgrade?.status).toBe('failed');
    expect(check(report, 'drift').status).toBe('pass');
  });

  it('upgrade-fails: upgrade fails naming the revision and the database error', async () => {
    const report = expectFailed(await gate('upgrade-fails'), ['upgrade']);
    const up = check(report, 'upgrade');
    expect(up.findings[0]!.revision).toBe('d4e5f6a1b2c3');
    expect(up.findings[0]!.message).toContain('upgrade of d4e5f6a1b2c3 fails');
    expect(up.findings[0]!.message).toContain('relation "invoices" does not exist');
    expect(up.findings[0]!.file).toBe('migrations/versions/d4e5f6a1b2c3_backfill_invoices.py');
    expect(check(report, 'drift').status).toBe('skip');
  });

  it.each([[[]], [['--fail-on', 'drift']]])('env-raises %j: an env.py that cannot run is an error (exit 2) naming env.py, whatever --fail-on says', async (args) => {
    const r = await gate('env-raises', { args });
    expect(r.code, explain(r)).toBe(2);
    expect(r.report!.status).toBe('error');
    const up = check(r.report, 'upgrade');
    expect(up.status).toBe('error');
    expect(up.summary).toBe("the head's env.py fails before running any migration, so no revision could be tested");
    expect(up.findings.map((f) => [f.file, f.line, f.message])).toEqual([
      [
        'migrations/env.py',
        10,
        'upgrade of c3d4e5f6a1b2 fails: migrations/env.py line 10 raised before running any migration: RuntimeError: env.py: SHOP_SETTINGS is not configured',
      ],
    ]);
  });

  it('duplicate-revision: two files declaring one revision id fail graph naming both files', async () => {
    const report = expectFailed(await gate('duplicate-revision'), ['graph']);
    const g = check(report, 'graph');
    expect(g.summary).toBe('1 revision id is declared by more than one file');
    expect(g.findings.map((f) => [f.file, f.message])).toEqual([
      [
        'migrations/versions/d4e5f6a1b2c3_add_tags.py',
        'revision id d4e5f6a1b2c3 is declared by migrations/versions/d4e5f6a1b2c3_add_notes.py and migrations/versions/d4e5f6a1b2c3_add_tags.py; Alembic silently keeps only one of them: give the other a new id (and update the down_revision that names it)',
      ],
    ]);
  });

  it.each([
    ['reserved-revision-id', 'migrations/versions/base_add_notes.py', "revision id 'base' is reserved by Alembic (base, head, heads): give the revision another id (and update the down_revision that names it)"],
    ['illegal-revision-id', 'migrations/versions/add_notes.py', "Character(s) '+' not allowed in revision identifier 'add+notes'; give the revision an id of letters, digits and underscores (and update the down_revision that names it)"],
  ])('%s: graph fails naming the file, not with an AssertionError', async (name, file, why) => {
    const report = expectFailed(await gate(name), ['graph']);
    expect(check(report, 'graph').findings.map((f) => [f.file, f.message])).toEqual([[file, `${file} does not load: ${why}`]]);
  });

  it.each([
    // configparser has put the ini's directory in for %(here)s; the report names it relative to the repository
    ['script-location-parent', /alembic\.ini sets script_location = \.\., which resolves to \/\S+, outside the repository/],
    ['script-location-symlink', /alembic\.ini sets script_location = shared-migrations, which resolves to \/\S+\/examples\/shop\/base\/migrations, outside the repository/],
  ])('%s: a script_location outside the repository is refused before any revision file runs', async (name, where) => {
    const text = expectCouldNotRun(await gate(name), where, 'the gate runs only the migrations the repository holds');
    expect(text).not.toMatch(/does not load/);
  });

  it.each([',', ' , '])('--fail-on %j names no check: a usage error', async (value) => {
    const r = await gate('clean', { args: ['--fail-on', value] });
    expectCouldNotRun(r, `--fail-on: '${value}' names no check; use check ids from graph, heads`);
  });

  it('--fail-on none reports failures without failing', async () => {
    const r = await gate('leaky-index', { args: ['--fail-on', 'none'] });
    expect(r.code, explain(r)).toBe(0);
    expect(failing(r.report)).toEqual(['locks', 'roundtrip']);
  });

  it('hangs: a step that runs past --step-timeout is stopped and named; nothing is left running', async () => {
    const started = Date.now();
    const report = expectFailed(await gate('hangs', { args: ['--step-timeout', '3'], timeoutMs: 90_000 }), ['upgrade']);
    expect(Date.now() - started).toBeLessThan(60_000);
    const up = check(report, 'upgrade');
    expect(up.findings[0]!.revision).toBe('d4e5f6a1b2c3');
    expect(up.findings[0]!.message).toMatch(/d4e5f6a1b2c3.*(longer than 3 s|timed out|stopped)/);
    expect(report.revisions.find((x) => x.revision === 'd4e5f6a1b2c3')!.steps.upgrade?.status).toBe('timeout');
    const sleeping = await query("SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()");
    expect(sleeping).toEqual([]);
  });
});

describe('alembic-gate check: the unprivileged migration role', () => {
  const SUPERUSER_NOTE =
    'warning: the --database-url user "postgres" is a superuser on a server the pull request\'s code can reach: the project\'s code ran as an unprivileged role of its own, ' +
    'but make sure the server holds nothing else (a services: container), or give the gate a user with only CREATEDB and CREATEROLE';
  const hint = (what: string) => `\n${what}`;

  it('the report warns that the --database-url user is a superuser; the project still runs as a role of its own', async () => {
    const report = expectPassed(await gate('clean'));
    expect(report.notices).toEqual([SUPERUSER_NOTE]);
  });

  it('extension-trusted: the migration role may create a trusted extension (pgcrypto) in its own database', async () => {
    const report = expectPassed(await gate('extension-trusted'));
    expect(check(report, 'roundtrip').summary).toMatch(/^1 revision round-trips cleanly/);
  });

  it('extension-untrusted: CREATE EXTENSION dblink fails upgrade with PostgreSQL\'s error and what to do', async () => {
    const report = expectFailed(await gate('extension-untrusted'), ['upgrade']);
    const message = check(report, 'upgrade').findings[0]!.message;
    expect(message).toMatch(/^upgrade of d4e5f6a1b2c3 fails: sqlalchemy\.exc\.ProgrammingError: \(psycopg2\.errors\.InsufficientPrivilege\) permission denied to create extension "dblink"\nHINT: {2}Must be superuser to create this extension\.\n/);
    expect(message.endsWith(hint(
      'dblink is not a trusted extension: only a superuser may create it, and alembic-gate runs migrations as a role that owns its database but is no superuser, as managed PostgreSQL does. ' +
        "If production's migration role may create dblink (or it is created before migrations run), pass --migration-role superuser (action input migration-role).",
    ))).toBe(true);
  });

  it('extension-untrusted --migration-role superuser: passes, with a warning in the report', async () => {
    const report = expectPassed(await gate('extension-untrusted', { args: ['--migration-role', 'superuser'] }));
    expect(report.notices).toEqual([
      SUPERUSER_NOTE,
      'warning: --migration-role superuser: the project\'s code connects as the --database-url user "postgres", a superuser, with rights production\'s migration role rarely has (dblink, COPY ... TO PROGRAM, untrusted extensions, other databases on the server)',
    ]);
  });

  it('copy-to-program: COPY ... TO PROGRAM cannot run a program on the server', async () => {
    const report = expectFailed(await gate('copy-to-program'), ['upgrade']);
    const message = check(report, 'upgrade').findings[0]!.message;
    expect(message).toMatch(/^upgrade of d4e5f6a1b2c3 fails: sqlalchemy\.exc\.ProgrammingError: \(psycopg2\.errors\.InsufficientPrivilege\) must be superuser or have privileges of the pg_execute_server_program role to COPY to or from an external program\n/);
    expect(message.endsWith(hint(
      "alembic-gate runs migrations as a role that owns its databases but is no superuser, as managed PostgreSQL does, and this statement needs more. If production's migration role has that right, pass --migration-role superuser (action input migration-role).",
    ))).toBe(true);
  });

  it('drops-other-database: another database on the --database-url server cannot be dropped', async () => {
    await query('DROP DATABASE IF EXISTS ag_fixture_canary');
    await query('CREATE DATABASE ag_fixture_canary');
    try {
      const report = expectFailed(await gate('drops-other-database'), ['upgrade']);
      expect(check(report, 'upgrade').findings[0]!.message).toMatch(/^upgrade of d4e5f6a1b2c3 fails: sqlalchemy\.exc\.ProgrammingError: \(psycopg2\.errors\.InsufficientPrivilege\) must be owner of database ag_fixture_canary\n/);
      expect(await query("SELECT 1 FROM pg_database WHERE datname = 'ag_fixture_canary'")).toHaveLength(1);
    } finally {
      await query('DROP DATABASE IF EXISTS ag_fixture_canary');
    }
  });

  describe('a --database-url user that is no superuser', () => {
    const users = { creator: 'ag_fixture_gate_creator', dbOnly: 'ag_fixture_gate_dbonly' };
    const urlOf = (user: string) => SERVER.replace(/^(postgres(?:ql)?:\/\/)[^@/]*@/, `$1${user}@`);
    beforeAll(async () => {
      for (const u of Object.values(users)) await query(`DROP ROLE IF EXISTS ${u}`);
      await query(`CREATE ROLE ${users.creator} LOGIN CREATEDB CREATEROLE`);
      await query(`CREATE ROLE ${users.dbOnly} LOGIN CREATEDB`);
    });
    afterAll(async () => {
      for (const u of Object.values(users)) await query(`DROP ROLE IF EXISTS ${u}`);
    });

    it('with CREATEDB and CREATEROLE: the project runs as the migration role, no warning, nothing left', async () => {
      const report = expectPassed(await gate('clean', { noDatabaseUrl: true, args: ['--database-url', urlOf(users.creator)] }));
      expect(report.notices).toEqual([]);
    });

    it('with CREATEDB only: the project runs as that user, with a notice saying what to grant', async () => {
      const report = expectPassed(await gate('clean', { noDatabaseUrl: true, args: ['--database-url', urlOf(users.dbOnly)] }));
      expect(report.notices).toEqual([
        `the --database-url user "${users.dbOnly}" may not create roles, so the project's code connects as that user: grant it CREATEROLE so that migrations run as an unprivileged role of their own`,
      ]);
    });
  });
});

describe('alembic-gate check: roles (cluster-wide objects)', () => {
  const role = 'ag_fixture_reporting';
  const roleExists = async () => (await query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).length === 1;

  // The server at 5432 is PostgreSQL 15, shared with the tests: there the unprivileged migration
  // role may not create roles, so the runs that need it say --migration-role superuser.
  const superuser = ['--migration-role', 'superuser'];

  it('role-created: a migration that creates a role passes, twice in a row on the same server, and the role is gone after each run', async () => {
    expect(await roleExists()).toBe(false);
    expectPassed(await gate('role-created', { args: superuser }));
    expect(await roleExists()).toBe(false);
    expectPassed(await gate('role-created', { args: superuser }));
    expect(await roleExists()).toBe(false);
  });

  it("role-created on the local provider: the unprivileged migration role may create roles on the gate's own server", async () => {
    const report = expectPassed(await gate('role-created', { noDatabaseUrl: true, sharedTmp: true }));
    expect(report.database?.provider).toBe('local');
  });

  it('role-created on a --database-url server older than PostgreSQL 16: upgrade fails with the reason and the ways out', async () => {
    const report = expectFailed(await gate('role-created'), ['upgrade']);
    expect(check(report, 'upgrade').findings[0]!.message).toMatch(
      /^upgrade of d4e5f6a1b2c3 fails: sqlalchemy\.exc\.ProgrammingError: \(psycopg2\.errors\.InsufficientPrivilege\) permission denied to create role\n\n\[SQL: CREATE ROLE ag_fixture_reporting NOLOGIN\]\n\(Background on this error at: https:\/\/sqlalche\.me\/e\/\d+\/f405\)\nOn a --database-url server older than PostgreSQL 16 the role alembic-gate runs migrations as may not create roles \(there CREATEROLE would let it grant itself pg_execute_server_program\): use PostgreSQL 16 or later, or the local provider, or pass --migration-role superuser \(action input migration-role\)\.$/,
    );
    expect(await roleExists()).toBe(false);
  });

  it('role-leaky: a downgrade that forgets its role is a roundtrip finding naming it', async () => {
    const report = expectFailed(await gate('role-leaky', { args: superuser }), ['roundtrip']);
    expect(messages(check(report, 'roundtrip').findings)).toContain(`downgrade of d4e5f6a1b2c3 leaves role ${role}, which its upgrade created`);
    expect(await roleExists()).toBe(false);
  });
});

describe('alembic-gate check: could not run (exit 2)', () => {
  it('--config missing.ini names the path', async () => {
    expectCouldNotRun(await gate('clean', { args: ['--config', 'missing.ini'] }), 'missing.ini', '--config');
  });

  it('--python /nonexistent/python names it', async () => {
    expectCouldNotRun(await gate('clean', { noPython: true, args: ['--python', '/nonexistent/python'] }), '/nonexistent/python');
  });

  it('--python python3 without Alembic names alembic and the interpreter', async () => {
    // The python3 first on PATH (pyenv here) has no Alembic; the second stack's PYTHONPATH
    // (built for Debian's python3) must not lend it one.
    expectCouldNotRun(await gate('clean', { noPython: true, args: ['--python', 'python3'], env: { PYTHONPATH: '' } }), /alembic/i, /python3/);
  });

  it('--base no-such-ref says how to fetch it', async () => {
    expectCouldNotRun(await gate('clean', { args: ['--base', 'no-such-ref'] }), 'no-such-ref', 'git fetch');
  });

  it('--provider url with an unreachable server names the provider and why', async () => {
    expectCouldNotRun(
      await gate('clean', { noDatabaseUrl: true, args: ['--provider', 'url', '--database-url', 'postgresql://postgres@127.0.0.1:1/x'] }),
      /provider url|url:/,
      '127.0.0.1:1',
      /ECONNREFUSED|could not connect/,
    );
  });

  it('a multi-word --python command works', async () => {
    expectPassed(await gate('clean', { noPython: true, args: ['--python', `env PYTHONWARNINGS=ignore ${PYTHON}`] }));
  });

  it('a revision file that blocks at import obeys --step-timeout and is named', async () => {
    const r = await gate('blocks-at-import', { args: ['--step-timeout', '2'] });
    expectCouldNotRun(r);
    expect(r.report?.error).toBe(
      'loading the head tree: importing migrations/versions/d4e5f6a1b2c3_sync_catalog.py did not finish within 2 s and was stopped; the file blocks at import (a network call, a lock, a prompt?): move that work into upgrade(), or raise the limit with --step-timeout',
    );
  });

  it("a --step-timeout beyond Node's timer limit (about 24.8 days) is capped, not an instant timeout", async () => {
    expectPassed(await gate('clean', { args: ['--step-timeout', '99999999'] }));
  });

  it.each([
    ['does not exist', () => join(privateTmp, 'missing')],
    [
      'is not a directory',
      () => {
        const file = join(privateTmp, 'a-file');
        writeFileSync(file, '');
        return file;
      },
    ],
  ])('a TMPDIR that %s is named, with what to do', async (what, dir) => {
    const tmp = dir();
    const r = await gate('clean', { sharedTmp: true, env: { TMPDIR: tmp } });
    expectCouldNotRun(r);
    expect(r.report?.error).toBe(`the temporary directory ${tmp} (from TMPDIR) ${what}: create it, or point TMPDIR at a writable directory`);
  });

  it("a migration that tries to end the gate's own sessions (pg_terminate_backend) cannot: the migration role is no superuser", async () => {
    expectPassed(await gate('terminates-sessions'));
  });

  it("a migration that ends the gate's own sessions (pg_terminate_backend, --migration-role superuser) gets a message, not a stack", async () => {
    const text = expectCouldNotRun(await gate('terminates-sessions', { args: ['--migration-role', 'superuser'] }));
    expect(text).toMatch(/^alembic-gate: the gate lost its connection to the throwaway database during "round-trip d4e5f6a1b2c3 kick other sessions before a rewrite" \(/m);
    expect(text).toMatch(/a migration ended the gate's sessions \(pg_terminate_backend on every session of the database\)/);
  });

  it('an unknown --roundtrip scope is a usage error', async () => {
    expectCouldNotRun(await gate('clean', { args: ['--roundtrip', 'sometimes'] }), '--roundtrip', 'sometimes');
  });
});

describe('alembic-gate check: local provider', () => {
  it('without --database-url, the local provider starts its own cluster and cleans it up', async () => {
    const report = expectPassed(await gate('clean', { noDatabaseUrl: true, sharedTmp: true }));
    expect(report.database.provider).toBe('local');
    expect(report.database.version).toMatch(/^\d+/);
  });
});
