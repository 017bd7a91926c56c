// The `data` check: the new revisions on a copy of the base state that has rows (synthetic ones
// and/or the team's own). The walk over the copy (src/engine/data-walk.ts) observes the rows
// around each step and makes the findings; the judge sums them up. Pure.
import { plural } from '../report/format.js';
import type { CheckResult, Finding } from '../report/types.js';
import { NO_GRAPH, skipped, type CheckDefinition } from './definition.js';

export interface DataObservations {
  /** Upgrades that fail only on rows, rows lost by a round trip (errors); values changed (warnings). */
  findings: Finding[];
  /** The new revisions walked. */
  newRevisions: number;
  /** Tables of the base state that had rows once filled. */
  tablesWithRows: number;
  /** --seed-rows, and what the synthetic rows came to. */
  seedRows: number;
  rowsSeeded: number;
  filledTables: number;
  seed: number;
  /** --seed-sql as the user named it. */
  seedSql?: string;
  /** The revision the walk stopped at, if it stopped. */
  stoppedAt: string | null;
}

export function judgeData(o: DataObservations): CheckResult {
  const errors = o.findings.filter((f) => f.severity === 'error');
  const warnings = o.findings.filter((f) => f.severity === 'warning');
  const rows = o.seedRows > 0 ? `${plural(o.rowsSeeded, 'synthetic row')} in ${plural(o.filledTables, 'table')} (seed ${o.seed})` : '';
  const own = o.seedSql ? `the rows of ${o.seedSql}` : '';
  const source = [own, rows].filter(Boolean).join(' and ') || 'no rows';
  if (o.tablesWithRows === 0) return skipped('data', `the base state has no rows to test with (${source})`);
  const stopped = o.stoppedAt && !errors.some((f) => f.revision === o.stoppedAt) ? `; stopped at ${o.stoppedAt}, which fails on the empty database too` : '';
  return {
    id: 'data',
    status: errors.length ? 'fail' : 'pass',
    summary: errors.length
      ? `${plural(new Set(errors.map((f) => f.revision)).size, 'revision')} ${errors.length === 1 ? 'fails or loses rows' : 'fail or lose rows'} on a database with ${source}${stopped}`
      : `${plural(o.newRevisions, 'new revision')} keep${o.newRevisions === 1 ? 's' : ''} the rows of ${plural(o.tablesWithRows, 'table')} (${source})${warnings.length ? `; ${plural(warnings.length, 'change')} of existing values to review` : ''}${stopped}`,
    findings: o.findings,
  };
}

/** A column a new revision adds NOT NULL, without a default, to a table that existed (see FilledColumn). */
export interface FilledColumnObservation {
  revision: string;
  file: string;
  table: string;
  column: string;
  type: string;
}

/** The value MySQL gives the rows a table has when a NOT NULL column without a default is added. */
export function implicitDefault(type: string): string {
  const t = type.toLowerCase();
  if (/^enum\(/.test(t)) return /^enum\(('(?:[^']|'')*')/.exec(t)?.[1] ?? "''";
  if (/^(tinyint|smallint|mediumint|int|integer|bigint|decimal|numeric|float|double|real|bit|bool|boolean)\b/.test(t)) return '0';
  if (/^datetime|^timestamp/.test(t)) return "'0000-00-00 00:00:00'";
  if (/^date\b/.test(t)) return "'0000-00-00'";
  if (/^time\b/.test(t)) return "'00:00:00'";
  if (/^year/.test(t)) return '0000';
  return "''";
}

/**
 * The data check where the engine has no row fingerprints but fills rather than fails
 * (capabilities.implicitFill): each NOT NULL column without a default added to a table that was
 * there is named, with the value production's rows would silently get.
 */
export function judgeImplicitFill(filled: FilledColumnObservation[], newRevisions: number, engineName: string): CheckResult {
  const findings: Finding[] = filled.map((f) => ({
    severity: 'error',
    revision: f.revision,
    file: f.file,
    message:
      `upgrade of ${f.revision} adds ${f.table}.${f.column} (${f.type}) NOT NULL without a default to ${f.table}, which exists: ` +
      `${engineName} does not fail on the rows production has, it fills them with ${implicitDefault(f.type)}`,
    detail: 'Give the column a server_default, or add it nullable, backfill it with op.execute("UPDATE ..."), then make it NOT NULL (with existing_type and existing_server_default).',
  }));
  if (findings.length) {
    return { id: 'data', status: 'fail', summary: `${plural(findings.length, 'column')} added NOT NULL without a default to existing tables: ${engineName} fills their rows with implicit defaults`, findings };
  }
  return { id: 'data', status: 'pass', summary: `${plural(newRevisions, 'new revision')} add${newRevisions === 1 ? 's' : ''} no NOT NULL column without a default to an existing table (${engineName}: from the schema; rows are not seeded yet)`, findings: [] };
}

export const data: CheckDefinition<'data', typeof judgeData> = {
  id: 'data',
  title: 'the new revisions keep working, and keep the rows, on a database with rows',
  failsWhen:
    'on a copy of the base state filled with rows, a new revision\'s upgrade fails only because of rows ("upgrade of c3d4e5f6a1b2 fails on a database with rows in users (column users.nickname)": NOT NULL without a default, a unique index over duplicates), or a round trip loses rows ("round trip (upgrade, downgrade) of c3d4e5f6a1b2 loses 5 of 5 rows of orders"); an upgrade that changes values of existing columns is a warning ("changes 5 of 5 values of users.name")',
  fixHint: 'make the migration work on tables with rows (a server_default, or add nullable, backfill, then NOT NULL) and keep rows through the round trip',
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.engine.capabilities.rowFingerprints && !ctx.engine.capabilities.implicitFill) return `not available on ${ctx.engine.name} yet`;
    if (!ctx.engine.capabilities.rowFingerprints) {
      // From the schema the round trips read: no rows needed, no base state to copy.
      if (ctx.roundtrip === 'none') return 'needs the round trips (--roundtrip none)';
      return ctx.newRevisions === 0 ? 'no new revisions' : null;
    }
    if (ctx.seedRows === 0 && !ctx.seedSql) return 'off (--seed-rows 0 and no --seed-sql)';
    if (ctx.roundtrip === 'all') return 'runs in pull-request mode (--roundtrip new or none): --roundtrip all has no base state to fill';
    if (ctx.newRevisions === 0) return 'no new revisions';
    if (ctx.baseRevisions === 0) return 'the base has no revisions, so no tables to fill';
    return null;
  },
  judge: judgeData,
};
