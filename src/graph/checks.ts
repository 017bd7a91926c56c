// The graph-level checks (heads, history) as pure functions of the base and head graphs.
import type { CheckResult, Finding } from '../report/types.js';
import { ancestorsOf, type RevisionGraph } from './graph.js';
import { unifiedLineDiff } from './line-diff.js';

const list = (ids: string[]) => ids.map((i) => `"${i}"`).join(', ');

/**
 * `heads`: exactly one head (or no more heads than the base had), and every new revision
 * descends from the base's head(s). A PR cut from an older base whose new revision revises
 * something that is no longer the head is named with both ids and the fix.
 */
export function checkHeads(base: RevisionGraph | null, head: RevisionGraph, newRevs: Set<string>): CheckResult {
  const findings: Finding[] = [];
  const baseHeads = base?.heads ?? [];
  const allowed = Math.max(1, baseHeads.length);

  // Stale base: a new revision attaches below a base revision that is not a base head.
  const stale = new Set<string>();
  if (base) {
    const baseHeadSet = new Set(baseHeads);
    // Ancestors of each head of the head graph and each base head, computed once.
    const below = new Map(head.heads.map((h) => [h, ancestorsOf(head.nodes, [h])]));
    const baseBelow = new Map(baseHeads.map((h) => [h, ancestorsOf(base.nodes, [h])]));
    for (const rev of newRevs) {
      const node = head.nodes.get(rev)!;
      for (const parent of node.downRevisions) {
        if (!base.nodes.has(parent) || baseHeadSet.has(parent)) continue;
        // Attached below the base's head: fine only if every head this revision leads to also
        // takes in each base head above that parent (a merge revision brought it back in).
        const leadsTo = head.heads.filter((h) => h === rev || below.get(h)!.has(rev));
        const missing = baseHeads.filter((bh) => baseBelow.get(bh)!.has(parent) && !leadsTo.every((h) => h === bh || below.get(h)!.has(bh)));
        if (missing.length === 0) continue;
        stale.add(rev);
        findings.push({
          severity: 'error',
          revision: rev,
          file: node.file,
          message: `revision ${rev} revises ${parent}, but the base's head is now ${list(missing)}: the branch was cut from an older base`,
          detail: `Rebase onto the base branch and set down_revision = ${missing.length === 1 ? `"${missing[0]}"` : `(${list(missing)})`} in ${node.file}, or after merging run \`alembic merge heads -m "merge heads"\`.`,
        });
      }
    }
  }

  if (head.heads.length > allowed) {
    findings.push({
      severity: 'error',
      message: `the revision graph has ${head.heads.length} heads: ${list(head.heads)}`,
      detail: 'Two branches each added a revision. Run `alembic merge heads -m "merge heads"` and commit the merge revision, or rebase one branch so its revision revises the other.',
      ...(head.heads.filter((h) => newRevs.has(h)).length === 1
        ? (() => {
            const h = head.heads.find((x) => newRevs.has(x))!;
            return { revision: h, file: head.nodes.get(h)!.file };
          })()
        : {}),
    });
  }

  // The base's heads must still be in the graph below some head.
  if (base) {
    const reachable = ancestorsOf(head.nodes, head.heads);
    for (const h of head.heads) reachable.add(h);
    for (const bh of baseHeads) {
      if (!head.nodes.has(bh)) continue; // deletion is the history check's finding
      if (!reachable.has(bh)) findings.push({ severity: 'error', revision: bh, message: `base head ${bh} is not reachable from the head's heads ${list(head.heads)}` });
    }
  }

  const status = findings.length ? 'fail' : 'pass';
  const summary =
    status === 'pass'
      ? head.heads.length === 1
        ? `one head: ${list(head.heads)}`
        : `${head.heads.length} heads (${list(head.heads)}), no more than the base had`
      : head.heads.length > allowed
        ? `${head.heads.length} heads: ${list(head.heads)}; run alembic merge heads`
        : stale.size
          ? `new revision ${list([...stale])} does not descend from the base's head`
          : 'the revision graph is not linear on top of the base';
  return { id: 'heads', status, summary, findings };
}

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

export function checkHistory(base: RevisionGraph | null, head: RevisionGraph, ctx: HistoryContext): CheckResult {
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
