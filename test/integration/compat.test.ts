// The `compat` check on fixture projects: the base's models, through the base's own env.py,
// tried on the schema after the PR's upgrade (as the deployed release meets it during a deploy).
import { describe, expect, it } from 'vitest';
import { check, explain, fixtureGate } from '../helpers/fixture-gate.js';

const gate = fixtureGate();

describe("compat: the deployed code against the PR's schema", () => {
  it('compat-drop-column: dropping a column the base models map fails compat naming it', async () => {
    const r = await gate('compat-drop-column');
    expect(r.code, explain(r)).toBe(1);
    expect(r.report!.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['compat']);
    const compat = check(r.report, 'compat');
    expect(compat.summary).toBe("the deployed code breaks on the upgraded schema (1 finding over 2 tables of the base's models)");
    expect(compat.findings.map((f) => [f.severity, f.message, f.detail])).toEqual([
      [
        'error',
        'the deployed code reads users.name, which this change drops or renames: every query of users by the running release fails until the new code is out',
        'Drop it in a later PR, after the code that stops reading it is deployed; to rename, add the new column, write both, backfill, move the readers, then drop the old one (three deploys).',
      ],
    ]);
  });

  it('compat-rename-column: renaming a column fails compat naming the old name', async () => {
    const r = await gate('compat-rename-column');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report, 'compat').findings.map((f) => f.message)).toEqual([
      'the deployed code reads users.name, which this change drops or renames: every query of users by the running release fails until the new code is out',
    ]);
  });

  it('compat-add-nullable: adding a nullable column passes', async () => {
    const r = await gate('compat-add-nullable');
    expect(r.code, explain(r)).toBe(0);
    expect(check(r.report, 'compat')).toEqual({ id: 'compat', status: 'pass', summary: "the base's models work on the upgraded schema (2 tables: select, insert, update)", findings: [] });
  });

  it('compat-not-null-backfilled: a NOT NULL column without a server default, backfilled in the migration, fails compat while data passes', async () => {
    const r = await gate('compat-not-null-backfilled');
    expect(r.code, explain(r)).toBe(1);
    expect(check(r.report, 'data').status).toBe('pass');
    expect(check(r.report, 'compat').findings.map((f) => f.message)).toEqual([
      'the deployed code inserts into users without setting users.nickname, which this change adds NOT NULL without a server default: its inserts fail until the new code is out',
    ]);
  });

  it('compat-no-metadata: a base without target_metadata has no models to try: skipped, saying why', async () => {
    const r = await gate('compat-no-metadata');
    expect(r.code, explain(r)).toBe(0);
    expect(check(r.report, 'compat')).toEqual({ id: 'compat', status: 'skip', summary: "the base's env.py gives no target_metadata, so there are no models to try", findings: [] });
  });

  it('no new revisions: skipped, saying why', async () => {
    const r = await gate('comment-only-edit');
    expect(check(r.report, 'compat')).toEqual({ id: 'compat', status: 'skip', summary: 'no new revisions', findings: [] });
  });
});
