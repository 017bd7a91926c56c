// The revision graph of the comment and the job summary: a Mermaid flowchart (GitHub renders
// it) of the neighbourhood a reviewer needs: the pull request's new revisions, the revisions
// they revise back to the base, siblings on other branches from the same parents, and the base's
// head(s), including one the branch does not have (a stale base). Failing revisions are marked.
// Past MAX_NODES, or when there is nothing new, a plain list or nothing. Pure.
import type { Report, RevisionReport } from './types.js';
import { codeSpan, escapeInline } from './escape.js';

/** GitHub renders bigger diagrams, but past this a list reads better than a picture. */
export const MAX_NODES = 60;
const LABEL_CHARS = 40;
const LIST_ITEMS = 15;
const KIND_WORD: Record<RevisionGraph['nodes'][number]['kind'], string> = {
  new: 'new',
  failing: 'fails a check',
  base: 'in the base',
  other: 'another branch',
  'missing-base-head': "the base's head, not in this branch",
};

export interface RevisionGraph {
  /** Revisions drawn, each with how it is marked. */
  nodes: { revision: string; message: string; kind: 'new' | 'failing' | 'base' | 'other' | 'missing-base-head' }[];
  /** [from (the revised), to (the revising)]. */
  edges: [string, string][];
}

/** The revisions at fault in the report: named by a finding of a failing check, or a failed step. */
export function failingRevisions(report: Report): Set<string> {
  const out = new Set<string>();
  for (const c of report.checks) {
    if (c.status !== 'fail' && c.status !== 'error') continue;
    for (const f of c.findings) if (f.revision && f.severity === 'error') out.add(f.revision);
  }
  for (const r of report.revisions) {
    if (Object.values(r.steps).some((s) => s && (s.status === 'failed' || s.status === 'timeout'))) out.add(r.revision);
  }
  return out;
}

export function revisionGraph(report: Report): RevisionGraph | null {
  const byRev = new Map(report.revisions.map((r) => [r.revision, r]));
  const fresh = report.revisions.filter((r) => r.isNew);
  if (fresh.length === 0) return null;
  const parents = (r: RevisionReport): string[] => [...r.downRevisions, ...(r.dependsOn ?? [])].filter((p) => byRev.has(p));
  const keep = new Set<string>(fresh.map((r) => r.revision));
  // The revisions the new ones stand on, one step back (where they branch off the base).
  const roots = new Set<string>();
  for (const r of fresh) for (const p of parents(r)) if (!keep.has(p)) roots.add(p);
  for (const p of roots) keep.add(p);
  // Siblings: other branches from the same parents (what "two heads" is about).
  for (const r of report.revisions) {
    if (!keep.has(r.revision) && r.downRevisions.some((p) => roots.has(p))) keep.add(r.revision);
  }
  // The base's heads, in the graph or not (a base head the branch lacks means a stale base).
  for (const h of report.base.heads) keep.add(h);

  const failing = failingRevisions(report);
  const baseHeads = new Set(report.base.heads);
  const nodes: RevisionGraph['nodes'] = [];
  for (const r of report.revisions) {
    if (!keep.has(r.revision)) continue;
    const kind = failing.has(r.revision) ? 'failing' : r.isNew ? 'new' : baseHeads.has(r.revision) || roots.has(r.revision) ? 'base' : 'other';
    nodes.push({ revision: r.revision, message: r.message, kind });
  }
  for (const h of report.base.heads) {
    if (!byRev.has(h)) nodes.push({ revision: h, message: "the base's head, not in this branch", kind: 'missing-base-head' });
  }
  const edges: [string, string][] = [];
  for (const r of report.revisions) {
    if (!keep.has(r.revision)) continue;
    for (const p of parents(r)) if (keep.has(p)) edges.push([p, r.revision]);
  }
  return { nodes, edges };
}

/** Repository text in a Mermaid label: every character but letters, digits and spaces as an entity code. */
export function mermaidText(s: string): string {
  const clipped = [...s.replace(/\s+/g, ' ').trim()];
  const text = clipped.length > LABEL_CHARS ? `${clipped.slice(0, LABEL_CHARS - 1).join('')}…` : clipped.join('');
  return [...text].map((c) => (/[A-Za-z0-9 ]/.test(c) ? c : `#${c.codePointAt(0)};`)).join('');
}

const CLASSES: Record<RevisionGraph['nodes'][number]['kind'], string> = {
  new: 'fill:#ddf4ff,stroke:#0969da',
  failing: 'fill:#ffebe9,stroke:#cf222e,stroke-width:2px',
  base: 'fill:#f6f8fa,stroke:#57606a',
  other: 'fill:#fff8c5,stroke:#9a6700',
  'missing-base-head': 'fill:#fff8c5,stroke:#9a6700,stroke-dasharray:4 3',
};

/** The graph as markdown: a mermaid block (with a one-line key), a list past MAX_NODES, or null. */
export function renderRevisionGraph(report: Report): string | null {
  const g = revisionGraph(report);
  if (!g) return null;
  const id = new Map(g.nodes.map((n, i) => [n.revision, `r${i}`]));
  if (g.nodes.length > MAX_NODES) {
    // Failing revisions first, then the rest in history order; a list this long is a summary.
    const order = [...g.nodes.filter((n) => n.kind === 'failing'), ...g.nodes.filter((n) => n.kind !== 'failing')];
    const items = order.slice(0, LIST_ITEMS).map((n) => `- ${codeSpan(n.revision.slice(0, 12))} ${escapeInline(n.message)} (${KIND_WORD[n.kind]})`);
    const more = order.length - LIST_ITEMS;
    return [`${g.nodes.length} revisions around this change, too many to draw:`, ...items, ...(more > 0 ? [`- ... and ${more} more`] : [])].join('\n');
  }
  const lines = ['```mermaid', 'flowchart BT'];
  const cls = (kind: string): string => kind.replace(/-/g, '_');
  for (const n of g.nodes) {
    lines.push(`  ${id.get(n.revision)}["${mermaidText(n.revision.slice(0, 12))}<br/>${mermaidText(n.message || '(no message)')}"]:::${cls(n.kind)}`);
  }
  for (const [from, to] of g.edges) lines.push(`  ${id.get(from)} --> ${id.get(to)}`);
  const used = new Set(g.nodes.map((n) => n.kind));
  for (const kind of Object.keys(CLASSES) as (keyof typeof CLASSES)[]) {
    if (used.has(kind)) lines.push(`  classDef ${cls(kind)} ${CLASSES[kind]}`);
  }
  lines.push('```');
  const key: string[] = [];
  if (used.has('new')) key.push('blue: new in this change');
  if (used.has('failing')) key.push('red: fails a check');
  if (used.has('base')) key.push('grey: in the base');
  if (used.has('other')) key.push('yellow: on another branch');
  if (used.has('missing-base-head')) key.push("dashed: the base's head, which this branch does not have");
  return `${lines.join('\n')}\n\n<sub>${key.join(' · ')}</sub>`;
}
