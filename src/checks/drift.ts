// The `drift` check: the head's models against the schema the migrations build (Alembic's
// autogenerate comparison, run by the worker at the head). Pure: the worker's drift result, or
// the failure that stopped it, in; a CheckResult (and the report's drift section) out.
import type { DriftResult } from '../alembic/worker-client.js';
import type { StepFailure } from '../engine/steps.js';
import type { CheckResult, DriftSection } from '../report/types.js';
import { NO_GRAPH, skipped, type CheckDefinition } from './definition.js';

/** The worker's comparison, or why it could not be made (describeFailure of its error). */
export type DriftObservation = { raw: DriftResult } | { failure: StepFailure };

export function judgeDrift(o: DriftObservation): CheckResult {
  if ('failure' in o) {
    const f = o.failure;
    return {
      id: 'drift',
      status: 'fail',
      summary: `the models could not be compared: ${f.message.split('\n')[0]}`,
      // As steps.ts findingFrom makes it (a failed comparison is never env.py's failure to start).
      findings: [{ severity: 'error', message: `comparing the models failed: ${f.message}`, revision: f.revision, file: f.file, ...(f.line ? { line: f.line } : {}), detail: f.detail }],
    };
  }
  const d = o.raw;
  if (d.skipped) return skipped('drift', d.skipped);
  const ops = d.operations ?? [];
  if (!ops.length) return { id: 'drift', status: 'pass', summary: 'the models match the migrated schema', findings: [] };
  return {
    id: 'drift',
    status: 'fail',
    summary: 'models changed without a migration',
    findings: ops.map((o) => ({ severity: 'error', message: o.message, detail: 'Generate the missing migration with `alembic revision --autogenerate -m "..."` (the report carries the operations it will contain).' })),
  };
}

/** The report's drift section: the operations and the migration autogenerate would write. */
export function driftSection(d: DriftResult): DriftSection {
  const ops = d.operations ?? [];
  return {
    operations: ops.map((o) => ({ kind: o.kind, message: o.message, ...(o.table ? { table: o.table } : {}), ...(o.column ? { column: o.column } : {}), ...(o.name ? { name: o.name } : {}) })),
    suggestedMigration: ops.length ? (d.upgrade ?? null) : null,
    suggestedDowngrade: ops.length ? (d.downgrade ?? null) : null,
  };
}

export const drift: CheckDefinition<'drift', typeof judgeDrift> = {
  id: 'drift',
  title: 'the models match the migrated schema',
  failsWhen: 'the models differ from the migrated schema ("models changed without a migration"); the report carries the `upgrade()` body `alembic revision --autogenerate` would write',
  fixHint: 'add a migration for the model change (the suggested migration is in the job summary)',
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.reachedHead) return 'the database could not reach the head (see upgrade)';
    return null;
  },
  judge: judgeDrift,
};
