// The `upgrade` check: base -> head applies (or, with --roundtrip all, the whole history from an
// empty database) and persists. Pure: the failed steps the walk found in, a CheckResult out.
import { plural } from '../report/format.js';
import type { CheckResult, Finding } from '../report/types.js';
import { NO_GRAPH, type CheckDefinition } from './definition.js';

export interface UpgradeObservations {
  /** One finding per revision (or the head) that failed to apply. */
  findings: Finding[];
  /** env.py fails before any migration runs (steps.ts, isEnvFailure): nothing was tested. */
  envBroken: boolean;
  /** --roundtrip all: the head's whole history was replayed from an empty database. */
  replayAll: boolean;
  /** Revisions of the head. */
  headRevisions: number;
  /** Revisions of the base, or null when the base has no Alembic setup. */
  baseRevisions: number | null;
  newRevisions: number;
}

export function judgeUpgrade(o: UpgradeObservations): CheckResult {
  return {
    id: 'upgrade',
    // env.py that cannot run is not a verdict on the migrations: an error, whatever --fail-on says.
    status: o.envBroken ? 'error' : o.findings.length ? 'fail' : 'pass',
    summary: o.envBroken
      ? "the head's env.py fails before running any migration, so no revision could be tested"
      : o.findings.length
        ? `${plural(o.findings.length, 'revision')} ${o.findings.length === 1 ? 'fails' : 'fail'} to apply`
        : o.replayAll
          ? `all ${o.headRevisions} revisions apply from an empty database`
          : `base${o.baseRevisions !== null ? ` (${plural(o.baseRevisions, 'revision')})` : ' (empty)'} -> head (${o.newRevisions} new) applies`,
    findings: o.findings,
  };
}

export const upgrade: CheckDefinition<'upgrade', typeof judgeUpgrade> = {
  id: 'upgrade',
  title: 'base -> head applies and persists',
  failsWhen: "base -> head does not apply; the finding names the revision, the file and the database's error",
  fixHint: 'fix the migration that fails to apply',
  skip: (ctx) => (ctx.graphLoads ? null : NO_GRAPH),
  judge: judgeUpgrade,
};
