import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/report/markdown.js';
import { errorReport, failingReport, hostileReport, hugeReport, passingReport } from '../helpers/sample-reports.js';
import { expectGolden } from '../helpers/golden.js';

const opts = {
  repoUrl: 'https://github.com/acme/shop',
  headSha: '3333333333333333333333333333333333333333',
  marker: '<!-- alembic-gate:0123456789ab -->',
};
const COMMENT_LIMIT = 65_000;

/** Lines that open or close a fenced code block must pair up (a renderer bug or an escape would not). */
function fencesBalanced(md: string): boolean {
  let open: string | null = null;
  for (const line of md.split('\n')) {
    const m = /^\s*(`{3,})/.exec(line);
    if (!m) continue;
    if (open === null) open = m[1]!;
    else if (m[1]!.length >= open.length && line.trim() === m[1]) open = null;
  }
  return open === null;
}

// The goldens of real runs are in report-goldens.test.ts; this one is a report too big for a
// comment (thousands of findings), which no fixture produces.
describe('renderMarkdown golden files', () => {
  it('huge report trimmed for a comment', () =>
    expectGolden('huge-comment.md', renderMarkdown(hugeReport(), { ...opts, maxLength: COMMENT_LIMIT, summaryHint: 'See the [job summary](https://github.com/acme/shop/actions/runs/1).' })));
});

describe('renderMarkdown content', () => {
  it('starts with the marker and states the verdict', () => {
    const md = renderMarkdown(failingReport(), opts);
    expect(md.split('\n')[0]).toBe(opts.marker);
    expect(md).toContain('## ❌ alembic-gate: 4 checks failed (heads, history, roundtrip, drift)');
    expect(renderMarkdown(passingReport(), {})).toContain('## ✅ alembic-gate: migrations pass');
    expect(renderMarkdown(errorReport(), {})).toContain('## ⚠️ alembic-gate: the gate could not finish (graph)');
  });

  it('links findings to the head commit', () => {
    const md = renderMarkdown(failingReport(), opts);
    expect(md).toContain(
      '[migrations/versions/0f9e8d7c6b5a\\_add\\_users\\_nickname.py:24](https://github.com/acme/shop/blob/3333333333333333333333333333333333333333/migrations/versions/0f9e8d7c6b5a_add_users_nickname.py#L24)',
    );
  });

  it('shows the suggested migration as python and the error prominently', () => {
    expect(renderMarkdown(failingReport(), opts)).toContain("```python\nop.add_column('users', sa.Column('last_login'");
    const err = renderMarkdown(errorReport(), opts);
    expect(err).toContain("**The gate could not run to the end.** The head tree's env.py could not be imported with python3.");
  });

  it('keeps fenced blocks balanced', () => {
    for (const r of [passingReport(), failingReport(), errorReport(), hostileReport(), hugeReport()]) {
      expect(fencesBalanced(renderMarkdown(r, opts))).toBe(true);
      expect(fencesBalanced(renderMarkdown(r, { ...opts, maxLength: COMMENT_LIMIT }))).toBe(true);
    }
  });
});

/** The markdown with fenced blocks and code spans removed: what GitHub parses as text and HTML. */
function outsideCode(md: string): string {
  const lines: string[] = [];
  let open: string | null = null;
  for (const line of md.split('\n')) {
    const m = /^\s*(`{3,})/.exec(line);
    if (open === null && m) open = m[1]!;
    else if (open !== null && m && m[1]!.length >= open.length && line.trim() === m[1]) open = null;
    else if (open === null) lines.push(line);
  }
  return lines.join('\n').replace(/(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, '');
}

describe('renderMarkdown hostile text', () => {
  const md = renderMarkdown(hostileReport(), opts);
  const text = outsideCode(md);
  it('injects no HTML', () => {
    expect(text).not.toContain('<script');
    expect(text).not.toContain('<img');
    // only our own tags appear raw
    const tags = new Set([...text.matchAll(/<\/?([a-z]+)/g)].map((m) => m[1]));
    expect([...tags].sort()).toEqual(['details', 'sub', 'summary']);
  });
  it('pings nobody', () => {
    expect(text).not.toMatch(/@[A-Za-z0-9]/);
  });
  it('keeps exactly one marker (the forged one is escaped)', () => {
    expect(md.match(/<!-- alembic-gate:/g)).toHaveLength(1);
  });
  it('adds no heading or table row of its own', () => {
    expect(md).not.toMatch(/^## injected/m);
    expect(md).not.toMatch(/^\| injected/m);
  });
  it('makes no link out of the file name beyond our blob URL', () => {
    expect(md).not.toContain('](javascript:');
  });
});

describe('renderMarkdown size limit', () => {
  const huge = hugeReport();
  it('is long without a limit (the job summary)', () => {
    expect(renderMarkdown(huge, opts).length).toBeGreaterThan(200_000);
  });
  it('fits the comment limit and says where the rest is', () => {
    const md = renderMarkdown(huge, { ...opts, maxLength: COMMENT_LIMIT });
    expect(md.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(md).toContain('Some detail was left out');
    expect(md).toContain('and 201 more findings');
    expect(md).toContain('job summary');
    // the sections after the findings survive
    expect(md).toContain('### New revisions');
    expect(md.split('\n')[0]).toBe(opts.marker);
  });
  it('drops detail before truncating', () => {
    const r = failingReport();
    const full = renderMarkdown(r, opts);
    // just under the full length: SQL or passing revisions go first, the findings stay
    const md = renderMarkdown(r, { ...opts, maxLength: full.length - 1 });
    expect(md.length).toBeLessThan(full.length);
    expect(md).not.toContain('Report truncated');
    expect(md).toContain('Some detail was left out');
    expect(md).toContain('leaves column users.nickname behind');
  });
  it('never cuts a table row or code block', () => {
    for (const max of [3000, 5000, 9000, 12_000]) {
      const md = renderMarkdown(huge, { ...opts, maxLength: max });
      expect(md.length).toBeLessThanOrEqual(max);
      expect(md).toContain('Report truncated');
      expect(md.split('\n')[0]).toBe(opts.marker);
      expect(fencesBalanced(md)).toBe(true);
      for (const line of md.split('\n').filter((l) => l.startsWith('|'))) expect(line.trimEnd().endsWith('|')).toBe(true);
      expect((md.match(/<details>/g) ?? []).length).toBe((md.match(/<\/details>/g) ?? []).length);
    }
  });
});
