// The `locks` check on fixture projects: the locks each new revision's statements take on
// tables that existed before it, observed on the migration's own connection while it runs.
import { describe, expect, it } from 'vitest';
import { CHECK_IDS, type Report } from '../../src/report/types.js';
import { check, explain, fixtureGate } from '../helpers/fixture-gate.js';

const gate = fixtureGate();
const failing = (report: Report | undefined) => report!.checks.filter((c) => c.status === 'fail').map((c) => c.id);

describe('locks: what new revisions lock on existing tables', () => {
  it('locks-index: a plain create_index on users fails locks naming the table, the index, the lock and the concurrent way', async () => {
    const r = await gate('locks-index');
    expect(r.code, explain(r)).toBe(1);
    expect(failing(r.report)).toEqual(['locks']);
    const locks = check(r.report, 'locks');
    expect(locks.summary).toBe('1 new revision blocks existing tables (1 finding)');
    expect(locks.findings).toEqual([
      {
        severity: 'error',
        revision: 'c3d4e5f6a1b2',
        file: 'migrations/versions/c3d4e5f6a1b2_add_users_name_index.py',
        line: 18,
        message:
          'upgrade of c3d4e5f6a1b2: CREATE INDEX ix_users_name on users takes a SHARE lock for the whole build: writes to users wait until it is built; build it with `postgresql_concurrently=True` inside `op.get_context().autocommit_block()` (locks/index-not-concurrent)',
        detail:
          'Fix: build it concurrently: `with op.get_context().autocommit_block(): op.create_index(..., postgresql_concurrently=True)`.\n' +
          'Statement: CREATE INDEX ix_users_name ON users (name)\nTable: users\nLock: SHARE\nWaits: writes',
      },
    ]);
  });

  it('locks-index-concurrently: the same index built concurrently in an autocommit block passes', async () => {
    const r = await gate('locks-index-concurrently');
    expect(r.code, explain(r)).toBe(0);
    expect(check(r.report, 'locks')).toEqual({ id: 'locks', status: 'pass', summary: 'no new revision blocks an existing table for long', findings: [] });
  });

  it('clean: a new table with its indexes and a foreign key to users passes', async () => {
    const r = await gate('clean');
    expect(r.code, explain(r)).toBe(0);
    expect(check(r.report, 'locks')).toEqual({ id: 'locks', status: 'pass', summary: 'no new revision blocks an existing table for long', findings: [] });
  });

  it('locks-volatile-default: a column with a volatile default names the rewrite of users', async () => {
    const r = await gate('locks-volatile-default');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report, 'locks').findings.map((f) => [f.severity, f.line, f.message])).toEqual([
      [
        'error',
        18,
        'upgrade of c3d4e5f6a1b2: `ALTER TABLE users ADD COLUMN score FLOAT DEFAULT random() NOT NULL` rewrites users (every row, into new storage) under an ACCESS EXCLUSIVE lock: reads and writes of users wait until it is done (locks/table-rewrite)',
      ],
    ]);
  });

  it('locks-acknowledged: an acknowledged finding is shown with its reason and does not fail', async () => {
    const r = await gate('locks-acknowledged');
    expect(r.code, explain(r)).toBe(0);
    const locks = check(r.report, 'locks');
    expect(locks.status).toBe('pass');
    expect(locks.summary).toBe('no new revision blocks an existing table for long (1 acknowledged)');
    expect(locks.findings.map((f) => [f.severity, f.message])).toEqual([
      [
        'notice',
        'acknowledged: upgrade of c3d4e5f6a1b2: CREATE INDEX ix_users_name on users takes a SHARE lock for the whole build: writes to users wait until it is built; build it with `postgresql_concurrently=True` inside `op.get_context().autocommit_block()` (locks/index-not-concurrent); reason: users holds a few hundred rows; the build takes milliseconds',
      ],
    ]);
  });

  it('--roundtrip none: locks is skipped and says why; --fail-on without locks reports it without failing', async () => {
    const off = await gate('locks-index', '--roundtrip', 'none');
    expect(check(off.report, 'locks')).toEqual({ id: 'locks', status: 'skip', summary: 'needs the round trips (--roundtrip none)', findings: [] });
    const soft = await gate('locks-index', '--fail-on', CHECK_IDS.filter((id) => id !== 'locks').join(','));
    expect(soft.code, explain(soft)).toBe(0);
    expect(check(soft.report, 'locks').status).toBe('fail');
  });
});
