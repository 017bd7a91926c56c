// The revision graph and the graph-level checks (heads, history) as pure functions over
// plain data: no Python, no database, no git.
import { describe, expect, it } from 'vitest';
import { judgeHeads } from '../../src/checks/heads.js';
import { judgeHistory } from '../../src/checks/history.js';
import { ancestorsOf, buildGraph, downTarget, headsOf, newRevisions, topologicalOrder, type RevisionGraph, type RevisionNode } from '../../src/graph/graph.js';

import { unifiedLineDiff } from '../../src/graph/line-diff.js';
/** `rev` or `rev<parent` or `rev<p1+p2` (merge); `rev~dep` adds depends_on. */
function node(spec: string, extra: Partial<RevisionNode> = {}): RevisionNode {
  const [main, dep] = spec.split('~');
  const [revision, parents] = main!.split('<');
  return {
    revision: revision!,
    downRevisions: parents ? parents.split('+') : [],
    dependsOn: dep ? dep.split('+') : [],
    branchLabels: [],
    message: `revision ${revision}`,
    file: `migrations/versions/${revision}_x.py`,
    upgradeHash: `up-${revision}`,
    downgradeHash: `down-${revision}`,
    ...extra,
  };
}
const graph = (...specs: (string | RevisionNode)[]): RevisionGraph => buildGraph(specs.map((s) => (typeof s === 'string' ? node(s) : s)));
const nodes = (...specs: string[]) => graph(...specs).nodes;

describe('headsOf', () => {
  it.each([
    { name: 'empty', specs: [], heads: [] },
    { name: 'one root', specs: ['a'], heads: ['a'] },
    { name: 'linear', specs: ['a', 'b<a', 'c<b'], heads: ['c'] },
    { name: 'two branches', specs: ['a', 'b<a', 'c<a'], heads: ['b', 'c'] },
    { name: 'merged', specs: ['a', 'b<a', 'c<a', 'm<b+c'], heads: ['m'] },
    { name: 'two roots', specs: ['a', 'x'], heads: ['a', 'x'] },
    { name: 'sorted', specs: ['a', 'z<a', 'b<a'], heads: ['b', 'z'] },
  ])('$name', ({ specs, heads }) => {
    expect(headsOf(nodes(...specs))).toEqual(heads);
    expect(buildGraph(specs.map((s) => node(s))).heads).toEqual(heads);
  });
});

describe('topologicalOrder', () => {
  const isTopological = (order: string[], n: Map<string, RevisionNode>) => {
    const pos = new Map(order.map((r, i) => [r, i]));
    for (const r of order) for (const p of [...n.get(r)!.downRevisions, ...n.get(r)!.dependsOn]) if (pos.has(p)) expect(pos.get(p)!, `${p} before ${r}`).toBeLessThan(pos.get(r)!);
  };

  it.each([
    { name: 'linear, listed backwards', specs: ['c<b', 'b<a', 'a'], order: ['a', 'b', 'c'] },
    { name: 'branches keep the given order', specs: ['a', 'c<a', 'b<a'], order: ['a', 'c', 'b'] },
    { name: 'merge after both parents', specs: ['m<b+c', 'a', 'b<a', 'c<a'], order: ['a', 'b', 'c', 'm'] },
    { name: 'depends_on orders too', specs: ['a', 'x~b', 'b<a'], order: ['a', 'b', 'x'] },
    { name: 'two roots', specs: ['a', 'x', 'b<a', 'y<x'], order: ['a', 'x', 'b', 'y'] },
  ])('$name', ({ specs, order }) => {
    const n = nodes(...specs);
    const out = topologicalOrder(n);
    expect(out).toEqual(order);
    isTopological(out, n);
  });

  it('a subset ignores parents outside it', () => {
    const n = nodes('a', 'b<a', 'c<b', 'd<c');
    expect(topologicalOrder(n, new Set(['d', 'c']))).toEqual(['c', 'd']);
  });

  it('is stable and complete on a long history with branches and merges', () => {
    const specs: string[] = ['r0'];
    for (let i = 1; i < 2000; i++) specs.push(i % 100 === 0 ? `r${i}<r${i - 1}+s${i - 1}` : `r${i}<r${i - 1}`);
    for (let i = 99; i < 2000; i += 100) specs.push(`s${i}<r${i - 1}`);
    const n = nodes(...specs.reverse());
    const out = topologicalOrder(n);
    expect(out).toHaveLength(n.size);
    expect(new Set(out).size).toBe(n.size);
    isTopological(out, n);
  });
});

describe('ancestorsOf', () => {
  const n = nodes('a', 'b<a', 'c<a', 'm<b+c', 'd<m', 'x');
  it.each([
    { start: ['a'], ancestors: [] },
    { start: ['b'], ancestors: ['a'] },
    { start: ['m'], ancestors: ['a', 'b', 'c'] },
    { start: ['d'], ancestors: ['a', 'b', 'c', 'm'] },
    { start: ['b', 'x'], ancestors: ['a'] },
    { start: ['unknown'], ancestors: [] },
  ])('of $start', ({ start, ancestors }) => {
    expect([...ancestorsOf(n, start)].sort()).toEqual(ancestors);
  });
});

describe('newRevisions', () => {
  it.each([
    { name: 'no base', base: null, head: ['a', 'b<a'], fresh: ['a', 'b'] },
    { name: 'one new', base: ['a', 'b<a'], head: ['a', 'b<a', 'c<b'], fresh: ['c'] },
    { name: 'none new', base: ['a', 'b<a'], head: ['a', 'b<a'], fresh: [] },
    { name: 'base-only revisions are not new', base: ['a', 'b<a', 'x<b'], head: ['a', 'b<a', 'c<b'], fresh: ['c'] },
  ])('$name', ({ base, head, fresh }) => {
    expect([...newRevisions(base ? graph(...base) : null, graph(...head))].sort()).toEqual(fresh);
  });
});

describe('downTarget', () => {
  it.each([
    { spec: 'a', target: 'base' },
    { spec: 'b<a', target: 'b@-1' },
    { spec: 'm<b+c', target: 'b' },
  ])('$spec -> $target', ({ spec, target }) => {
    expect(downTarget(node(spec))).toBe(target);
  });
});

describe('judgeHeads', () => {
  const base = graph('a', 'b<a');

  it('passes one new revision on the base head', () => {
    const head = graph('a', 'b<a', 'c<b');
    const r = judgeHeads(base, head, newRevisions(base, head));
    expect(r.id).toBe('heads');
    expect(r.status).toBe('pass');
    expect(r.findings).toEqual([]);
    expect(r.summary).toContain('"c"');
  });

  it('passes with no base at all', () => {
    const head = graph('a', 'b<a');
    expect(judgeHeads(null, head, newRevisions(null, head)).status).toBe('pass');
  });

  it('passes a merge revision that joins two new branches', () => {
    const head = graph('a', 'b<a', 'c<b', 'd<b', 'm<c+d');
    expect(judgeHeads(base, head, newRevisions(base, head)).status).toBe('pass');
  });

  it('fails two heads, naming both and `alembic merge heads`', () => {
    const head = graph('a', 'b<a', 'c<b', 'd<b');
    const r = judgeHeads(base, head, newRevisions(base, head));
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('alembic merge heads');
    const f = r.findings.find((x) => /2 heads/.test(x.message))!;
    expect(f.message).toContain('"c"');
    expect(f.message).toContain('"d"');
    expect(f.detail).toContain('alembic merge heads');
  });

  it('names the one new head when the other head came from the base', () => {
    // base already had b; the PR adds c beside it on a
    const head = graph('a', 'b<a', 'c<a');
    const r = judgeHeads(base, head, newRevisions(base, head));
    expect(r.status).toBe('fail');
    const stale = r.findings.find((x) => x.revision === 'c' && /revises a/.test(x.message));
    expect(stale?.message).toContain('"b"');
    const twoHeads = r.findings.find((x) => /2 heads/.test(x.message));
    expect(twoHeads?.revision).toBe('c');
    expect(twoHeads?.file).toBe('migrations/versions/c_x.py');
  });

  it('fails a stale base: the PR revises the old head, the base moved on', () => {
    const movedBase = graph('a', 'b<a', 'x<b');
    const head = graph('a', 'b<a', 'y<b'); // branched before x
    const r = judgeHeads(movedBase, head, newRevisions(movedBase, head));
    expect(r.status).toBe('fail');
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f.revision).toBe('y');
    expect(f.file).toBe('migrations/versions/y_x.py');
    expect(f.message).toContain('revision y revises b');
    expect(f.message).toContain('"x"');
    expect(f.detail).toContain('down_revision = "x"');
    expect(f.detail).toContain('alembic merge heads');
    expect(r.summary).toContain('"y"');
  });

  it('passes a stale branch that merges the moved base back in', () => {
    const movedBase = graph('a', 'b<a', 'x<b');
    const head = graph('a', 'b<a', 'x<b', 'y<b', 'm<x+y');
    expect(judgeHeads(movedBase, head, newRevisions(movedBase, head)).status).toBe('pass');
  });

  it('allows as many heads as the base already had', () => {
    const twoHeaded = graph('a', 'b<a', 'c<a');
    const head = graph('a', 'b<a', 'c<a', 'd<b');
    const r = judgeHeads(twoHeaded, head, newRevisions(twoHeaded, head));
    expect(r.status).toBe('pass');
  });
});

describe('judgeHistory', () => {
  const base = graph('a', 'b<a');
  const everything = { existedAtMergeBase: () => true };

  it('passes an untouched base', () => {
    const r = judgeHistory(base, graph('a', 'b<a', 'c<b'), everything);
    expect(r.id).toBe('history');
    expect(r.status).toBe('pass');
    expect(r.summary).toContain('2 revisions');
  });

  it('passes with no base', () => {
    expect(judgeHistory(null, graph('a'), everything).status).toBe('pass');
  });

  it('fails an edited upgrade(), naming the revision and file', () => {
    const head = graph('a', node('b<a', { upgradeHash: 'edited' }), 'c<b');
    const r = judgeHistory(base, head, everything);
    expect(r.status).toBe('fail');
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ revision: 'b', file: 'migrations/versions/b_x.py' });
    expect(r.findings[0]!.message).toContain('revision b (migrations/versions/b_x.py)');
    expect(r.findings[0]!.message).toContain('upgrade()');
    expect(r.findings[0]!.message).not.toContain('downgrade()');
  });

  it('fails an edited downgrade()', () => {
    const r = judgeHistory(base, graph('a', node('b<a', { downgradeHash: 'edited' })), everything);
    expect(r.findings[0]!.message).toContain('downgrade()');
  });

  it('names the new file of a renamed, edited revision', () => {
    const r = judgeHistory(base, graph('a', node('b<a', { file: 'migrations/versions/b_renamed.py', upgradeHash: 'edited' })), everything);
    expect(r.findings[0]!.file).toBe('migrations/versions/b_renamed.py');
  });

  it('passes a renamed file with the same code', () => {
    expect(judgeHistory(base, graph('a', node('b<a', { file: 'migrations/versions/b_renamed.py' })), everything).status).toBe('pass');
  });

  it('fails a deleted revision the merge base had', () => {
    const r = judgeHistory(base, graph('a'), { existedAtMergeBase: (f) => f === 'migrations/versions/b_x.py' });
    expect(r.status).toBe('fail');
    expect(r.findings[0]).toMatchObject({ revision: 'b', file: 'migrations/versions/b_x.py' });
    expect(r.findings[0]!.message).toMatch(/revision b .*is deleted/);
  });

  it('does not call a revision added to the base after the branch "deleted"', () => {
    const movedBase = graph('a', 'b<a', 'x<b');
    const r = judgeHistory(movedBase, graph('a', 'b<a', 'y<b'), { existedAtMergeBase: (f) => f !== 'migrations/versions/x_x.py' });
    expect(r.status).toBe('pass');
    expect(r.findings).toEqual([]);
  });

  it('fails a re-parented revision, with both parents', () => {
    const r = judgeHistory(graph('a', 'z', 'b<a'), graph('a', 'z', 'b<z'), everything);
    expect(r.status).toBe('fail');
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]!.message).toContain('re-parents');
    expect(r.findings[0]!.message).toContain('was a, now z');
  });

  it('a root that gains a parent is re-parenting from None', () => {
    const r = judgeHistory(graph('a'), graph('z', 'a<z'), everything);
    expect(r.findings[0]!.message).toContain('was None, now z');
  });

  it('counts every finding in the summary', () => {
    const r = judgeHistory(graph('a', 'b<a', 'c<b'), graph('a', node('b<a', { upgradeHash: 'x' })), everything);
    expect(r.findings).toHaveLength(2);
    expect(r.summary).toMatch(/^2 revisions/);
  });
});

describe('unifiedLineDiff', () => {
  it('shows changed lines with two lines of context and elides the rest', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].join('\n');
    const after = ['a', 'b', 'c', 'd', 'E', 'f', 'g', 'h'].join('\n');
    expect(unifiedLineDiff(before, after)).toBe(['  ...', '  c', '  d', '- e', '+ E', '  f', '  g', '  ...'].join('\n'));
  });

  it('is empty for equal text and summarised past its size limit', () => {
    expect(unifiedLineDiff('x\ny', 'x\ny')).toBe('');
    const big = Array.from({ length: 2500 }, (_, i) => `line ${i}`).join('\n');
    expect(unifiedLineDiff(big, `${big}\nmore`)).toBe('(2500 lines before, 2501 after: too long to show a diff)');
  });
});
