// The `history` check: the revisions the base already had reach the head unchanged. Pure: the
// base and head graphs (and what the merge base had) in, a CheckResult out.
import type { CheckResult, Finding } from '../report/types.js';
import type { RevisionGraph } from '../graph/graph.js';
import { unifiedLineDiff } from '../graph/line-diff.js';
import { NO_GRAPH, type CheckDefinition } from './definition.js';

export interface HistoryContext {
  /** Whether a file existed at the merge base (a base revision missing from head is only "deleted" by the PR if it did). */
  existedAtMergeBase: (file: string) => boolean;
}

/**
 * `history`: revisions the base already had must reach the head unchanged: same upgrade and
 * downgrade code (comments, whitespace and docstrings aside), same down revisions, not deleted.
 * A renamed file with the same content is fine: revisions are matched by id.
 */
function codeDiff(before: string | null | undefined, after: string | null | undefined): string {
  if (before == null && after == null) return '';
  return unifiedLineDiff(before ?? '', after ?? '');
}

export function judgeHistory(base: RevisionGraph | null, head: RevisionGraph, ctx: HistoryContext): CheckResult {
  const findings: Finding[] = [];
  if (base) {
    for (const [rev, old] of base.nodes) {
      const now = head.nodes.get(rev);
      if (!now) {
        if (!ctx.existedAtMergeBase(old.file)) continue; // added to the base after this branch was cut
        findings.push({
          severity: 'error',
          revision: rev,
          file: old.file,
          message: `revision ${rev} (${old.file}) is deleted, but the base already has it: databases that ran it can no longer be migrated`,
          detail: 'Restore the file. To undo what it did, add a new revision.',
        });
        continue;
      }
      const changed: string[] = [];
      const diffs: string[] = [];
      for (const fn of ['upgrade', 'downgrade'] as const) {
        if (old[`${fn}Hash`] === now[`${fn}Hash`]) continue;
        changed.push(`${fn}()`);
        const diff = codeDiff(old[`${fn}Code`], now[`${fn}Code`]);
        if (diff) diffs.push(`${fn}() and the code it uses, base -> this change:\n${diff}`);
      }
      if (changed.length) {
        findings.push({
          severity: 'error',
          revision: rev,
          file: now.file,
          message: `revision ${rev} (${now.file}) is already in the base, and this change edits its ${changed.join(' and ')}: production already ran it, so the edit will never reach production`,
          detail: [...diffs, 'Revert the edit and put the change in a new revision (`alembic revision -m "..."`).'].join('\n\n'),
        });
      }
      const a = [...old.downRevisions].sort().join(',');
      const b = [...now.downRevisions].sort().join(',');
      if (a !== b) {
        findings.push({
          severity: 'error',
          revision: rev,
          file: now.file,
          message: `revision ${rev} (${now.file}) is already in the base, and this change re-parents it: down_revision was ${a || 'None'}, now ${b || 'None'}`,
          detail: 'Restore its down_revision; add a merge revision instead (`alembic merge heads`).',
        });
      }
    }
  }
  return {
    id: 'history',
    status: findings.length ? 'fail' : 'pass',
    summary: findings.length
      ? `${findings.length} revision${findings.length === 1 ? '' : 's'} the base already had ${findings.length === 1 ? 'was' : 'were'} edited, deleted or re-parented`
      : base
        ? `the base's ${base.nodes.size} revision${base.nodes.size === 1 ? ' is' : 's are'} unchanged`
        : 'the base has no revisions yet',
    findings,
  };
}

export const history: CheckDefinition<'history', typeof judgeHistory> = {
  id: 'history',
  title: 'no revision the base already had is edited, deleted or re-parented',
  failsWhen: "a revision the base already had is edited (its `upgrade()`/`downgrade()` code, not comments), deleted or re-parented: production already ran it",
  fixHint: "restore the base's revisions and put the change in a new revision",
  skip: (ctx) => (ctx.graphLoads ? null : NO_GRAPH),
  judge: judgeHistory,
};
