// The revision graph as plain data: ordering, heads, ancestry. Everything here is linear or
// n log n in the number of revisions: histories of thousands of revisions must stay cheap.

export interface RevisionNode {
  revision: string;
  downRevisions: string[];
  dependsOn: string[];
  branchLabels: string[];
  message: string;
  /** Path relative to the repository root. */
  file: string;
  upgradeHash: string | null;
  downgradeHash: string | null;
  /**
   * What each hash is of: the function with the module-level code it uses, as the worker
   * canonicalised it (formatting, comments, import order and u'' prefixes gone).
   */
  upgradeCode?: string | null;
  downgradeCode?: string | null;
}

export interface RevisionGraph {
  nodes: Map<string, RevisionNode>;
  heads: string[];
}

export function buildGraph(nodes: RevisionNode[]): RevisionGraph {
  const map = new Map(nodes.map((n) => [n.revision, n]));
  return { nodes: map, heads: headsOf(map) };
}

/** Revisions that no other revision names as a down revision. */
export function headsOf(nodes: Map<string, RevisionNode>): string[] {
  const parents = new Set<string>();
  for (const n of nodes.values()) for (const d of n.downRevisions) parents.add(d);
  return [...nodes.keys()].filter((r) => !parents.has(r)).sort();
}

/**
 * Parents before children (down revisions and depends_on both order), ties broken by the
 * given order so the result is stable. Kahn's algorithm: O(n + e).
 */
export function topologicalOrder(nodes: Map<string, RevisionNode>, subset?: Set<string>): string[] {
  const ids = subset ? [...nodes.keys()].filter((r) => subset.has(r)) : [...nodes.keys()];
  const inSet = new Set(ids);
  const indegree = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const id of ids) {
    const node = nodes.get(id)!;
    let deg = 0;
    for (const p of new Set([...node.downRevisions, ...node.dependsOn])) {
      if (!inSet.has(p)) continue;
      deg++;
      (children.get(p) ?? children.set(p, []).get(p)!).push(id);
    }
    indegree.set(id, deg);
  }
  const rank = new Map(ids.map((id, i) => [id, i]));
  const ready = ids.filter((id) => indegree.get(id) === 0);
  const out: string[] = [];
  // A simple queue suffices: children are appended in rank order of discovery.
  for (let i = 0; i < ready.length; i++) {
    const id = ready[i]!;
    out.push(id);
    const kids = (children.get(id) ?? []).slice().sort((a, b) => rank.get(a)! - rank.get(b)!);
    for (const k of kids) {
      const d = indegree.get(k)! - 1;
      indegree.set(k, d);
      if (d === 0) ready.push(k);
    }
  }
  return out;
}

/** All ancestors of the given revisions (down revisions only), excluding themselves. */
export function ancestorsOf(nodes: Map<string, RevisionNode>, start: Iterable<string>): Set<string> {
  const seen = new Set<string>();
  const stack = [...start].flatMap((r) => nodes.get(r)?.downRevisions ?? []);
  while (stack.length) {
    const r = stack.pop()!;
    if (seen.has(r)) continue;
    seen.add(r);
    for (const d of nodes.get(r)?.downRevisions ?? []) stack.push(d);
  }
  return seen;
}

/** Revisions of `head` that `base` does not have. */
export function newRevisions(base: RevisionGraph | null, head: RevisionGraph): Set<string> {
  const out = new Set<string>();
  for (const r of head.nodes.keys()) if (!base?.nodes.has(r)) out.add(r);
  return out;
}

/**
 * The downgrade target that undoes exactly this revision, leaving other branches applied:
 * `<rev>@-1` for an ordinary revision (a plain `downgrade <parent>` would also undo a sibling
 * branch), one parent for a merge (Alembic restores both parents), `base` for a root.
 */
export function downTarget(node: RevisionNode): string {
  if (node.downRevisions.length === 0) return 'base';
  if (node.downRevisions.length === 1) return `${node.revision}@-1`;
  return node.downRevisions[0]!;
}
