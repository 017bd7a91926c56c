// Goldens from real runs: test/__outputs__/runs/<name>.json are reports of the gate run on
// fixture projects (scripts/record-reports.mjs records them), rendered here as the comment and
// the terminal would show them and compared with test/__outputs__/<name>.md / .txt. The comment
// is also parsed with a GFM renderer (marked), so its structure (headings, tables, folded
// details, the mermaid block) is checked, not only its text.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { marked, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';
import { escapeProse } from '../../src/report/escape.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderText } from '../../src/report/text.js';
import type { Report } from '../../src/report/types.js';
import { expectGolden } from '../helpers/golden.js';

const RUNS = join(dirname(fileURLToPath(import.meta.url)), '..', '__outputs__', 'runs');
const recorded = readdirSync(RUNS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();
const run = (name: string): Report => JSON.parse(readFileSync(join(RUNS, `${name}.json`), 'utf8')) as Report;
const opts = { repoUrl: 'https://github.com/acme/shop', marker: '<!-- alembic-gate:0123456789abcdef -->' };

function tokens(md: string): Token[] {
  const all: Token[] = [];
  const walk = (list: Token[]): void => {
    for (const t of list) {
      all.push(t);
      const children = (t as { tokens?: Token[] }).tokens;
      if (children) walk(children);
      if (t.type === 'list') walk((t as Tokens.List).items);
    }
  };
  walk(marked.lexer(md, { gfm: true }));
  return all;
}
const headings = (md: string): string[] => tokens(md).filter((t): t is Tokens.Heading => t.type === 'heading').map((t) => `${'#'.repeat(t.depth)} ${t.text}`);
const mermaid = (md: string): string[] => tokens(md).filter((t): t is Tokens.Code => t.type === 'code' && t.lang === 'mermaid').map((t) => t.text);

describe('goldens rendered from recorded runs of the fixtures', () => {
  it('covers the fixtures the issue names', () => {
    expect(recorded).toEqual(
      expect.arrayContaining(['clean', 'leaky-enum', 'two-heads', 'syntax-error', 'drift-missing-migration', 'data-not-null', 'catalog-write-raw', 'stale-base', 'locks-index']),
    );
  });

  it.each(recorded)('%s: markdown and text', (name) => {
    const report = run(name);
    expectGolden(`${name}.md`, renderMarkdown(report, opts));
    expectGolden(`${name}.txt`, renderText(report, { color: false }));
  });

  it('leaky-enum in colour', () => expectGolden('leaky-enum-color.txt', renderText(run('leaky-enum'), { color: true })));
});

describe('the comment, as a GFM renderer reads it', () => {
  it('leaky-enum: a heading per failing check, the checks and revisions tables, the graph, folded detail', () => {
    const md = renderMarkdown(run('leaky-enum'), opts);
    expect(headings(md)).toEqual([
      '## ❌ alembic-gate: 1 check failed (roundtrip)',
      '### Revision graph',
      '### ❌ `roundtrip`: 1 of 1 revision does not round-trip cleanly',
      '### New revisions',
      '### SQL preview',
      '### Notes', // the --database-url user of the recording is a superuser
    ]);
    const tables = tokens(md).filter((t): t is Tokens.Table => t.type === 'table');
    expect(tables.map((t) => t.header.map((h) => h.text))).toEqual([
      ['Check', 'Status', 'Summary'],
      ['Revision', 'Message', 'File', 'Upgrade', 'Downgrade', 'Re-upgrade', 'Findings'],
    ]);
    expect(tables[0]!.rows.map((r) => r[0]!.text)).toEqual(['`graph`', '`heads`', '`history`', '`upgrade`', '`roundtrip`', '`drift`', '`data`', '`locks`', '`compat`']);
    expect(tables[1]!.rows.map((r) => [r[0]!.text, r[6]!.text])).toEqual([['`c3d4e5f6a1b2`', '`roundtrip`']]);
    const graph = mermaid(md);
    expect(graph).toHaveLength(1);
    expect(graph[0]).toMatch(/^flowchart BT\n/);
    expect(graph[0]).toContain('r0["b2c3d4e5f6a1<br/>create orders"]:::base');
    expect(graph[0]).toContain('r1["c3d4e5f6a1b2<br/>add tickets"]:::failing');
    expect(graph[0]).toContain('r0 --> r1');
    expect(tokens(md).some((t) => t.type === 'html' && t.raw.includes('<details><summary>Detail</summary>'))).toBe(true);
  });

  it('each finding once: a round-trip difference is not repeated in a second section', () => {
    for (const name of ['leaky-enum', 'catalog-write-raw', 'drift-missing-migration']) {
      const md = renderMarkdown(run(name), opts);
      const report = run(name);
      for (const f of report.checks.flatMap((c) => c.findings)) {
        const shown = escapeProse(f.message);
        expect(md.split(shown).length - 1, `${name}: "${shown}"`).toBe(1);
      }
      expect(headings(md)).not.toContain('### Round-trip differences');
    }
  });

  it('locks-index: the locks findings are one table (rule, revision, step, statement, table, lock, waits, instead)', () => {
    const md = renderMarkdown(run('locks-index'), opts);
    const tables = tokens(md).filter((t): t is Tokens.Table => t.type === 'table');
    const locks = tables.find((t) => t.header[0]!.text === 'Rule')!;
    expect(locks.header.map((h) => h.text)).toEqual(['Rule', 'Revision', 'Step', 'Statement', 'Table', 'Lock', 'Waits', 'Instead']);
    expect(locks.rows.map((r) => r.map((c) => c.text).slice(2, 7))).toEqual([['upgrade', '`CREATE INDEX ix_users_name ON users (name)`', 'users', 'SHARE', 'writes']]);
  });

  it('two-heads: both heads are drawn as branches from the same parent', () => {
    const g = mermaid(renderMarkdown(run('two-heads'), opts))[0]!;
    expect(g).toContain('r0 --> r1');
    expect(g).toContain('r0 --> r2');
  });

  it("stale-base: the base's head the branch lacks is drawn dashed", () => {
    const md = renderMarkdown(run('stale-base'), opts);
    const g = mermaid(md)[0]!;
    expect(g).toContain('r2["d4e5f6a1b2c3<br/>the base#39;s head#44; not in this branch"]:::missing_base_head');
    expect(g).toContain('classDef missing_base_head ');
    expect(md).toContain("dashed: the base's head, which this branch does not have");
  });

  it("the README's example comment is the recorded leaky-enum run", () => {
    const golden = readFileSync(join(RUNS, '..', 'leaky-enum.md'), 'utf8').split('\n').slice(2).join('\n').trim();
    const readme = readFileSync(join(RUNS, '..', '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(`<!-- example-comment -->\n${golden}\n<!-- /example-comment -->`);
  });

  it('our own hints render as code, not as escaped backticks', () => {
    const md = renderMarkdown(run('env-raises'), opts);
    expect(md).not.toMatch(/\\`/);
  });
});
