import { describe, expect, it } from 'vitest';
import { blobUrl, codeBlock, codeSpan, escapeHtml, escapeInline, neutralizeMentions, stripControl } from '../../src/report/escape.js';

describe('escapeInline', () => {
  it('neutralizes HTML', () => {
    const out = escapeInline('<script>alert(1)</script> & <img src=x onerror=alert(1)>');
    expect(out).not.toMatch(/<|>/);
    expect(out).toContain('&lt;script&gt;');
    expect(out).toContain('&amp;');
  });

  it('keeps a message on one line so it cannot start a heading, list or fence', () => {
    const out = escapeInline('ok\n## heading\n- item\n```\ncode');
    expect(out).not.toContain('\n');
  });

  it('cannot break out of a table cell', () => {
    const out = escapeInline('a | b | c');
    expect(out.replace(/\\\|/g, '')).not.toContain('|');
  });

  it('escapes link and emphasis syntax', () => {
    expect(escapeInline('[x](javascript:alert(1)) *b* _i_ `c` ![i](u)')).toBe(
      '\\[x\\]\\(javascript:alert\\(1\\)\\) \\*b\\* \\_i\\_ \\`c\\` \\!\\[i\\]\\(u\\)',
    );
  });

  it('does not ping users or teams', () => {
    const out = escapeInline('thanks @octocat and @github/security-team, mail a@b.c');
    expect(out).not.toMatch(/@[A-Za-z0-9]/);
    expect(out).toContain('@\u200doctocat');
    expect(out).toContain('@\u200dgithub/security-team');
  });

  it('leaves issue references alone', () => {
    expect(escapeInline('fixes #123')).toBe('fixes #123');
  });
});

describe('codeSpan', () => {
  it('uses a backtick run longer than any inside', () => {
    expect(codeSpan('a`b')).toBe('``a`b``');
    expect(codeSpan('x ``` y')).toBe('````x ``` y````');
    expect(codeSpan('`edge`')).toBe('`` `edge` ``');
  });
  it('escapes pipes in tables and flattens newlines', () => {
    expect(codeSpan('a|b\nc', { inTable: true })).toBe('`a\\|b c`');
  });
});

describe('codeBlock', () => {
  it('uses a fence longer than any backtick run inside', () => {
    const block = codeBlock('x\n```\n````\ny', 'text');
    expect(block.startsWith('`````text\n')).toBe(true);
    expect(block.endsWith('\n`````')).toBe(true);
    // no line inside is a fence that could close it
    const inner = block.split('\n').slice(1, -1);
    expect(inner.every((l) => !/^`{5,}\s*$/.test(l))).toBe(true);
  });
  it('has at least three backticks', () => {
    expect(codeBlock('plain')).toBe('```\nplain\n```');
  });
});

describe('escapeHtml / neutralizeMentions / stripControl', () => {
  it('escapes for HTML contexts', () => {
    expect(escapeHtml('</summary><b x="1">@a</b>')).toBe('&lt;/summary&gt;&lt;b x=&quot;1&quot;&gt;@\u200da&lt;/b&gt;');
    expect(escapeHtml('![i](u) `c`\nnext')).toBe('&#33;&#91;i&#93;(u) &#96;c&#96; next');
  });
  it('leaves a lone @ alone', () => {
    expect(neutralizeMentions('a @ b')).toBe('a @ b');
  });
  it('strips terminal escapes and bidi overrides, keeps tabs and newlines', () => {
    expect(stripControl('\u001b[31mred\u001b[0m\r\n\tx\u202ey')).toBe('[31mred[0m\n\txy');
  });
});

describe('blobUrl', () => {
  it('links a file and line at a commit', () => {
    expect(blobUrl('https://github.com/o/r', 'abcdef1234567', 'migrations/versions/a b.py', 12)).toBe(
      'https://github.com/o/r/blob/abcdef1234567/migrations/versions/a%20b.py#L12',
    );
  });
  it('encodes characters that would end a markdown link', () => {
    expect(blobUrl('https://github.com/o/r', 'abcdef1', 'x)y](z.py')).toBe('https://github.com/o/r/blob/abcdef1/x%29y%5D%28z.py');
  });
  it('gives no link without a repository, for a bad sha, or for a path leaving the repository', () => {
    expect(blobUrl(undefined, 'abcdef1', 'a.py')).toBeUndefined();
    expect(blobUrl('https://github.com/o/r', 'HEAD; rm', 'a.py')).toBeUndefined();
    expect(blobUrl('https://github.com/o/r', 'abcdef1', '../../etc/passwd')).toBeUndefined();
  });
});
