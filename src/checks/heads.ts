// The `heads` check: exactly one head (or no more than the base had), and every revision the
// branch adds descends from the base's head(s). Pure: the base and head graphs in, a CheckResult out.
import type { CheckResult, Finding } from '../report/types.js';
import { ancestorsOf, type RevisionGraph } from '../graph/graph.js';
import { NO_GRAPH, type CheckDefinition } from './definition.js';

const list = (ids: string[]) => ids.map((i) => `"${i}"`).join(', ');

/**
 * `heads`: exactly one head (or no more heads than the base had), and every new revision
 * descends from the base's head(s). A PR cut from an older base whose new revision revises
 * something that is no longer the head is named with both ids and the fix.
 */
export function judgeHeads(base: RevisionGraph | null, head: RevisionGraph, newRevs: Set<string>): CheckResult {
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

export const heads: CheckDefinition<'heads', typeof judgeHeads> = {
  id: 'heads',
  title: "exactly one head; the branch's revisions descend from the base's head",
  failsWhen: "the graph has more than one head (run `alembic merge heads`), or a new revision revises something that is no longer the base's head (a branch cut from an older main)",
  fixHint: 'merge the heads with `alembic merge heads` or rebase your revision onto the base head',
  skip: (ctx) => (ctx.graphLoads ? null : NO_GRAPH),
  judge: judgeHeads,
};
