// The `data` check on fixture projects: real Alembic, real PostgreSQL, rows made from the catalog.
import { describe, expect, it } from 'vitest';
import { check, explain, fixtureGate } from '../helpers/fixture-gate.js';

const gate = fixtureGate();

describe('data: the new revisions on a database with rows', () => {
  it('data-check-constraints: a table whose CHECKs list values and bound numbers and lengths is filled, so its NOT NULL column without a default fails data', async () => {
    const r = await gate('data-check-constraints');
    expect(r.code, explain(r)).toBe(1);
    expect(r.report!.notices.filter((n) => n.startsWith('data:'))).toEqual([]);
    const data = check(r.report, 'data');
    expect(data.summary).toMatch(/^1 revision fails or loses rows on a database with 15 synthetic rows in 3 tables \(seed \d+\)$/);
    expect(data.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/^upgrade of d4e5f6a1b2c3 fails on a database with rows in products \(column products\.sku\), though it applies to an empty one: /),
    ]);
  });

  it('data-not-null: a NOT NULL column without a default fails data naming users.nickname; upgrade passes on the empty run', async () => {
    const r = await gate('data-not-null');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report, 'upgrade').status).toBe('pass');
    expect(check(r.report, 'roundtrip').status).toBe('pass');
    const data = check(r.report, 'data');
    expect(data.status).toBe('fail');
    expect(data.findings).toHaveLength(1);
    expect(data.findings[0]!.severity).toBe('error');
    expect(data.findings[0]!.revision).toBe('c3d4e5f6a1b2');
    expect(data.findings[0]!.message).toMatch(/^upgrade of c3d4e5f6a1b2 fails on a database with rows in users \(column users\.nickname\), though it applies to an empty one: .*column "nickname" of relation "users" contains null values/);
    expect(data.findings[0]!.detail).toMatch(/^Give the column a server_default, or add it nullable, backfill it/);
    expect(data.summary).toMatch(/^1 revision fails or loses rows on a database with 10 synthetic rows in 2 tables \(seed \d+\)$/);
  });

  it('data-recreate-empty: a downgrade that recreates orders empty fails data while roundtrip passes', async () => {
    const r = await gate('data-recreate-empty');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report, 'roundtrip').status).toBe('pass');
    const data = check(r.report, 'data');
    expect(data.status).toBe('fail');
    expect(data.findings.map((f) => `${f.severity}: ${f.message}`)).toEqual(['error: round trip (upgrade, downgrade) of c3d4e5f6a1b2 loses 5 of 5 rows of orders']);
  });

  it('data-update: an UPDATE overwriting users.name is named as a warning; the verdict passes', async () => {
    const r = await gate('data-update');
    expect(r.code, explain(r)).toBe(0);
    const data = check(r.report, 'data');
    expect(data.status).toBe('pass');
    expect(data.findings.map((f) => `${f.severity}: ${f.message}`)).toEqual(['warning: upgrade of c3d4e5f6a1b2 changes 5 of 5 values of users.name']);
  });

  it('data-backfill: add nullable, UPDATE, set NOT NULL passes data (compat and locks have their say)', async () => {
    const r = await gate('data-backfill');
    // The deployed code does not fill the new NOT NULL column (compat), and SET NOT NULL scans
    // users under the ADD COLUMN's ACCESS EXCLUSIVE lock (locks): both true, neither is data's.
    expect(r.code, explain(r)).toBe(1);
    expect(r.report!.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['locks', 'compat']);
    const data = check(r.report, 'data');
    expect(data.status).toBe('pass');
    expect(data.findings).toEqual([]);
    expect(data.summary).toMatch(/^1 new revision keeps the rows of 2 tables \(10 synthetic rows in 2 tables \(seed \d+\)\)$/);
    expect(r.report!.timings.seedMs).toBeGreaterThan(0);
  });

  it('data-seed-sql: the team\'s own rows (--seed-sql, no synthetic rows) catch the NOT NULL column', async () => {
    const r = await gate('data-seed-sql', '--seed-rows', '0', '--seed-sql', 'db/rows.sql');
    expect(r.code, explain(r)).toBe(1);
    const data = check(r.report, 'data');
    expect(data.summary).toBe('1 revision fails or loses rows on a database with the rows of db/rows.sql');
    expect(data.findings[0]!.message).toMatch(/column users\.nickname/);
  });

  it('is off with --seed-rows 0, and a bad --seed-rows is a usage error', async () => {
    const off = await gate('data-not-null', '--seed-rows', '0');
    expect(off.code, explain(off)).toBe(1); // compat: the deployed code does not fill users.nickname
    expect(off.report!.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['compat']);
    expect(check(off.report, 'data')).toEqual({ id: 'data', status: 'skip', summary: 'off (--seed-rows 0 and no --seed-sql)', findings: [] });
    const bad = await gate('clean', '--seed-rows', 'lots');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("alembic-gate: --seed-rows: 'lots' is not a number of rows per table (0 to 100000; 0 turns the synthetic rows off).\n");
  });
});
