// The `roundtrip` check: each revision in scope (the new ones; with --roundtrip all, every one)
// upgraded, downgraded back to the schema before it and upgraded again to the schema after it.
// Pure: what the walk's runs found (src/engine/roundtrip.ts) in, a CheckResult out.
import type { RoundTripResult } from '../engine/roundtrip.js';
import type { CheckResult } from '../report/types.js';
import { NO_GRAPH, skipped, type CheckDefinition } from './definition.js';

/** What the judge reads of a run of the round tripper. */
export type RoundTripObservations = Pick<RoundTripResult, 'roundtripFindings' | 'tripped' | 'irreversible'>;

/** The check from the results of one or more runs over `total` revisions, `blocked` of them not applied. */
export function judgeRoundtrip(results: RoundTripObservations[], total: number, blocked: number): CheckResult {
  if (total === 0) return skipped('roundtrip', 'no revisions to round-trip');
  const findings = results.flatMap((r) => r.roundtripFindings);
  const tripped = results.reduce((n, r) => n + r.tripped, 0);
  if (tripped === 0 && findings.length === 0 && results.every((r) => r.irreversible.length === 0)) {
    return skipped('roundtrip', `not run: ${blocked === 1 ? 'the new revision does' : `the ${blocked} revisions do`} not upgrade (see upgrade)`);
  }
  const failedRevs = new Set(findings.map((f) => f.revision)).size;
  const irreversible = results.reduce((n, r) => n + r.irreversible.length, 0);
  const skippedRevs = (blocked ? `; ${blocked} not round-tripped because their upgrade failed` : '') + (irreversible ? `; ${irreversible} irreversible (allowed)` : '');
  const revisions = `revision${tripped === 1 ? '' : 's'}`;
  return {
    id: 'roundtrip',
    status: findings.length ? 'fail' : 'pass',
    summary: findings.length
      ? `${failedRevs} of ${tripped} ${revisions} ${failedRevs === 1 ? 'does' : 'do'} not round-trip cleanly${skippedRevs}`
      : `${tripped} ${revisions} round-trip${tripped === 1 ? 's' : ''} cleanly (upgrade, downgrade, upgrade)${skippedRevs}`,
    findings,
  };
}

export const roundtrip: CheckDefinition<'roundtrip', typeof judgeRoundtrip> = {
  id: 'roundtrip',
  title: 'every new revision round-trips: upgrade, downgrade, upgrade again, comparing the schemas',
  failsWhen:
    'a downgrade does not give back the schema from before the upgrade, or the re-upgrade does not give back the upgraded schema: "downgrade of c3d4e5f6a1b2 leaves enum type ticket_status behind", "column users.name is varchar(100), was varchar(50)", "foreign key posts_user_id_fkey lost ON DELETE CASCADE"; a downgrade that raises',
  fixHint: 'make downgrade() undo exactly what upgrade() does',
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (ctx.roundtrip === 'none') return 'round trips are off (--roundtrip none)';
    if (ctx.roundtrip === 'new' && ctx.newRevisions === 0) return 'no new revisions to round-trip';
    if (ctx.roundtrip === 'all' && ctx.headRevisions === 0) return 'no revisions to round-trip';
    return null;
  },
  judge: judgeRoundtrip,
};
