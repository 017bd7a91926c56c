// Every check, in report order: the one list the gate, the renderers, the action, --fail-on and
// the README's table of checks come from. Adding a check is one file, src/checks/<id>.ts (its
// judge and its CheckDefinition), plus its line here. CheckId (src/report/types.ts) is derived
// from this list, so the report's ids are the registered ones.
//
// No check file may import this one (or src/report/types.ts) at run time: types.ts reads
// CHECK_IDS from here, so that import would be a cycle.
import type { CheckResult } from '../report/types.js';
import { compat } from './compat.js';
import { data } from './data.js';
import { skipped, type CheckDefinition, type SkipContext } from './definition.js';
import { drift } from './drift.js';
import { graph } from './graph.js';
import { heads } from './heads.js';
import { history } from './history.js';
import { locks } from './locks.js';
import { roundtrip } from './roundtrip.js';
import { upgrade } from './upgrade.js';

export type { CheckDefinition, SkipContext } from './definition.js';

/** The checks in the order the gate runs and reports them. */
export const CHECKS = [graph, heads, history, upgrade, roundtrip, drift, data, locks, compat] as const;

export type CheckId = (typeof CHECKS)[number]['id'];

export const CHECK_IDS: readonly CheckId[] = CHECKS.map((c) => c.id);

/** A check's definition (its judge typed loosely: import the check's own module to call it). */
export function checkById(id: CheckId): CheckDefinition<CheckId> {
  const def = CHECKS.find((c) => c.id === id);
  if (!def) throw new Error(`no check "${id}" is registered`);
  return def;
}

/** The skip result of check `id` in `ctx`, or null when the check runs. */
export function skipResult(id: CheckId, ctx: SkipContext): CheckResult | null {
  const why = checkById(id).skip(ctx);
  return why === null ? null : skipped(id, why);
}

/** Results in registry order (a stable sort: results of one id keep theirs). */
export function inCheckOrder<T extends { id: string }>(results: readonly T[]): T[] {
  const rank = (id: string) => {
    const i = CHECK_IDS.indexOf(id as CheckId);
    return i === -1 ? CHECK_IDS.length : i;
  };
  return [...results].sort((a, b) => rank(a.id) - rank(b.id));
}
