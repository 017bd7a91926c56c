// The check registry (src/checks/registry.ts) is the one list of checks: the report's ids, their
// order, the action's advice, the README's table and the skip rules all come from it. These
// tests keep the README and action.yml from drifting away from it, and a check's code one hop
// away: src/checks/<id>.ts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NO_GRAPH } from '../../src/checks/definition.js';
import { CHECKS, CHECK_IDS, checkById, inCheckOrder, skipResult, type SkipContext } from '../../src/checks/registry.js';
import { outcomeOf } from '../../src/action/outcome.js';
import type { EngineCapabilities } from '../../src/engines/engine.js';
import { DEFAULT_ENGINE } from '../../src/engines/index.js';
import { CHECK_IDS as REPORT_CHECK_IDS, type CheckId, type CheckResult, type Report } from '../../src/report/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The README's table of checks, as the registry has them. */
function checksTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| check id | checks | fails when | to fix |',
    '| --- | --- | --- | --- |',
    ...CHECKS.map((c) => `| \`${c.id}\` | ${cell(c.title)} | ${cell(c.failsWhen)} | ${cell(c.fixHint)} |`),
  ].join('\n');
}

/** The table under the README's "What it catches" heading. */
function readmeTable(readme: string): string {
  const lines = readme.split('\n');
  const heading = lines.indexOf('## What it catches');
  expect(heading, 'the README has a "## What it catches" section').toBeGreaterThan(-1);
  const start = lines.findIndex((l, i) => i > heading && l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  return lines.slice(start, end === -1 ? undefined : end).join('\n');
}

// PostgreSQL's: every check runs there.
const ALL: EngineCapabilities = DEFAULT_ENGINE.capabilities;
const NONE: EngineCapabilities = Object.fromEntries(Object.keys(ALL).map((k) => [k, false])) as unknown as EngineCapabilities;

/** A pull request adding 2 revisions to a base of 3, on PostgreSQL, every check running. */
const context = (over: Partial<SkipContext> = {}): SkipContext => ({
  engine: { name: 'PostgreSQL', capabilities: ALL },
  roundtrip: 'new',
  graphLoads: true,
  hasBase: true,
  newRevisions: 2,
  baseRevisions: 3,
  headRevisions: 5,
  reachedHead: true,
  seedRows: 5,
  seedSql: false,
  locksObserved: true,
  ...over,
});
const skips = (ctx: SkipContext) => Object.fromEntries(CHECKS.map((c) => [c.id, c.skip(ctx)]));

describe('the registry', () => {
  it('is the report\'s list of check ids, in report order, each id once', () => {
    expect(REPORT_CHECK_IDS).toEqual(CHECKS.map((c) => c.id));
    expect(CHECK_IDS).toEqual(CHECKS.map((c) => c.id));
    expect(new Set(CHECK_IDS).size).toBe(CHECKS.length);
    for (const id of CHECK_IDS) expect(checkById(id).id).toBe(id);
  });

  it.each(CHECKS.map((c) => [c.id, c] as const))('%s: its code is in src/checks/<id>.ts, which exports its definition', async (id, def) => {
    const file = join(ROOT, 'src', 'checks', `${id}.ts`);
    expect(existsSync(file), `src/checks/${id}.ts`).toBe(true);
    const mod = (await import(`../../src/checks/${id}.ts`)) as Record<string, unknown>;
    expect(Object.values(mod)).toContain(def);
    expect(Object.values(mod)).toContain(def.judge);
  });

  it('has a title, a "fails when" and a one-line fix hint for every check', () => {
    for (const c of CHECKS) {
      for (const text of [c.title, c.failsWhen, c.fixHint]) {
        expect(text.trim(), c.id).not.toBe('');
        expect(text, c.id).not.toMatch(/\n/);
      }
    }
  });

  it('orders results by the registry', () => {
    const result = (id: CheckId): CheckResult => ({ id, status: 'pass', summary: id, findings: [] });
    expect(inCheckOrder([...CHECK_IDS].reverse().map(result)).map((c) => c.id)).toEqual([...CHECK_IDS]);
  });
});

describe('the README and action.yml name the registered checks', () => {
  it('the README\'s table of checks is the registry\'s', () => {
    // To update it: put checksTable()'s output (the expected value below) in README.md.
    expect(readmeTable(read('README.md'))).toBe(checksTable());
  });

  it('the README says where a check\'s code is', () => {
    expect(read('README.md')).toContain('`src/checks/<id>.ts`');
  });

  it('fail-on: action.yml\'s default and description, the README\'s input row', () => {
    const action = read('action.yml');
    const failOn = action.slice(action.indexOf('\n  fail-on:'));
    expect(/\n {4}default: (.*)\n/.exec(failOn)?.[1]).toBe(CHECK_IDS.join(','));
    const description = /description: >-\n((?: {6}.*\n)+)/.exec(failOn)?.[1]?.replace(/\s+/g, ' ') ?? '';
    expect(description).toContain(CHECK_IDS.join(', '));
    const row = read('README.md').split('\n').find((l) => l.startsWith('| `fail-on` |')) ?? '';
    expect(row).toContain(CHECK_IDS.map((id) => `\`${id}\``).join(', '));
  });
});

describe('skip rules', () => {
  it('run every check on a pull request that adds revisions', () => {
    expect(skips(context())).toEqual(Object.fromEntries(CHECK_IDS.map((id) => [id, null])));
  });

  it('skip every check but graph when the revision scripts do not load', () => {
    expect(skips(context({ graphLoads: false }))).toEqual(Object.fromEntries(CHECK_IDS.map((id) => [id, id === 'graph' ? null : NO_GRAPH])));
    expect(NO_GRAPH).toBe('the revision scripts do not load (see graph)');
  });

  it('name what the engine lacks', () => {
    const sqlite = context({ engine: { name: 'SQLite', capabilities: NONE } });
    expect(skips(sqlite)).toMatchObject({
      locks: 'needs lock introspection, which SQLite does not have',
      data: 'not available on SQLite yet',
      compat: 'not available on SQLite yet',
      graph: null,
      heads: null,
      history: null,
      upgrade: null,
      roundtrip: null,
      drift: null,
    });
  });

  it.each<[Partial<SkipContext>, Partial<Record<CheckId, string | null>>]>([
    [{ roundtrip: 'none' }, { roundtrip: 'round trips are off (--roundtrip none)', locks: 'needs the round trips (--roundtrip none)', data: null, drift: null }],
    [{ roundtrip: 'all' }, { roundtrip: null, data: 'runs in pull-request mode (--roundtrip new or none): --roundtrip all has no base state to fill' }],
    [{ roundtrip: 'all', headRevisions: 0, newRevisions: 0 }, { roundtrip: 'no revisions to round-trip' }],
    [{ newRevisions: 0 }, { roundtrip: 'no new revisions to round-trip', data: 'no new revisions', locks: 'no new revisions', compat: 'no new revisions', upgrade: null }],
    [{ baseRevisions: 0 }, { data: 'the base has no revisions, so no tables to fill', compat: null }],
    [{ hasBase: false, baseRevisions: 0 }, { compat: 'no base to compare with' }],
    [{ reachedHead: false }, { drift: 'the database could not reach the head (see upgrade)', compat: 'the database could not reach the head (see upgrade)' }],
    [{ seedRows: 0 }, { data: 'off (--seed-rows 0 and no --seed-sql)' }],
    [{ seedRows: 0, seedSql: true }, { data: null }],
    [{ locksObserved: false }, { locks: 'off (ALEMBIC_GATE_LOCKS=off)' }],
  ])('%o', (over, expected) => {
    expect(skips(context(over))).toMatchObject(expected);
  });

  it('skipResult is the skip the report shows', () => {
    expect(skipResult('locks', context({ newRevisions: 0 }))).toEqual({ id: 'locks', status: 'skip', summary: 'no new revisions', findings: [] });
    expect(skipResult('locks', context())).toBeNull();
  });
});

describe('the action\'s advice', () => {
  it('is each failing check\'s fix hint, in registry order', () => {
    const failing = (id: CheckId): CheckResult => ({ id, status: 'fail', summary: `${id} failed`, findings: [] });
    const report = { status: 'fail', checks: [failing('drift'), failing('heads')] } as unknown as Report;
    expect(outcomeOf(report, CHECK_IDS).message).toBe(
      `alembic-gate: 2 checks failed. heads (heads failed): ${checkById('heads').fixHint}; drift (drift failed): ${checkById('drift').fixHint}.`,
    );
  });
});
