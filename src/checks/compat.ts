// The `compat` check: the code that is deployed while the migration runs (the base's models,
// through the base tree's own env.py) tried against the schema after the PR's upgrade, as
// during a rolling deploy (see alembic_gate_worker/compat.py, cmd_compat). Pure: the worker's problems (or why the
// base's env.py could not run) in, a CheckResult out, each finding with the expand/contract way
// to make the change safely.
import type { CompatResult } from '../alembic/worker-client.js';
import type { CheckResult, Finding } from '../report/types.js';
import { NO_GRAPH, skipped, type CheckDefinition } from './definition.js';

function finding(p: CompatResult['problems'][number]): Finding {
  switch (p.kind) {
    case 'missing_table':
      return {
        severity: 'error',
        message: `the deployed code (the base's models) uses table ${p.table}, which this change drops or renames: the running release fails on it until the new code is out`,
        detail: 'Drop (or rename) it in a later PR, after the code that stops using it is deployed; to rename, create the new table, write to both, move the readers, then drop the old one.',
      };
    case 'missing_column':
      return {
        severity: 'error',
        message: `the deployed code reads ${p.table}.${p.column}, which this change drops or renames: every query of ${p.table} by the running release fails until the new code is out`,
        detail: 'Drop it in a later PR, after the code that stops reading it is deployed; to rename, add the new column, write both, backfill, move the readers, then drop the old one (three deploys).',
      };
    case 'unfilled_column':
      return {
        severity: 'error',
        message: `the deployed code inserts into ${p.table} without setting ${p.table}.${p.column}, which this change adds NOT NULL without a server default: its inserts fail until the new code is out`,
        detail: 'Add the column with a server_default (or nullable), and make it NOT NULL without a default in a later PR, once the deployed code fills it.',
      };
    default:
      return { severity: 'error', message: `the deployed code's ${p.statement} on ${p.table} fails on the upgraded schema: ${p.message}` };
  }
}

/** The worker's trial, or the first line of the error the base's env.py raised on the upgraded schema. */
export function judgeCompat(r: CompatResult | { failed: string }): CheckResult {
  if ('failed' in r) return skipped('compat', `the base's env.py could not run on the upgraded schema: ${r.failed}`);
  if (!r.ran) return skipped('compat', "the base's env.py ran no migration context");
  if (!r.metadata) return skipped('compat', "the base's env.py gives no target_metadata, so there are no models to try");
  const findings = r.problems.map(finding);
  const tables = `${r.tables} table${r.tables === 1 ? '' : 's'}`;
  return findings.length
    ? { id: 'compat', status: 'fail', summary: `the deployed code breaks on the upgraded schema (${findings.length} finding${findings.length === 1 ? '' : 's'} over ${tables} of the base's models)`, findings }
    : { id: 'compat', status: 'pass', summary: `the base's models work on the upgraded schema (${tables}: select, insert, update)`, findings: [] };
}

export const compat: CheckDefinition<'compat', typeof judgeCompat> = {
  id: 'compat',
  title: "the deployed code (the base's models) works on the schema after the upgrade, as during a rolling deploy",
  failsWhen:
    'the code that is deployed while the migration runs (the base\'s models, through the base\'s own env.py) breaks on the schema after the PR\'s upgrade, as during a rolling deploy: it reads a column or table the PR drops or renames ("the deployed code reads users.name, which this change drops or renames"), or inserts without a column the PR adds NOT NULL without a server default; each finding says the expand/contract way',
  fixHint: 'change the schema in expand/contract steps, so the deployed code keeps working until the new code is out',
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.engine.capabilities.compat) return `not available on ${ctx.engine.name} yet`;
    if (!ctx.hasBase) return 'no base to compare with';
    if (ctx.newRevisions === 0) return 'no new revisions';
    if (!ctx.reachedHead) return 'the database could not reach the head (see upgrade)';
    return null;
  },
  judge: judgeCompat,
};
