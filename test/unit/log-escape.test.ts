import { describe, expect, it } from 'vitest';
import { escapeHtml, escapeInline, escapeLog, escapeLogLines, neutralizeCommandLines } from '../../src/report/escape.js';

describe('escapeLog', () => {
  it('keeps repository text on one line, control characters visible', () => {
    expect(escapeLog('add notes\n::warning::pwned\r\n\x1b]0;title\x07\x1b[2J\u202e')).toBe('add notes\\n::warning::pwned\\r\\n\\x1b]0;title\\x07\\x1b[2J\\u202e');
  });
  it('leaves ordinary text alone', () => {
    expect(escapeLog('round-trip c3d4 add tickets: é ✓')).toBe('round-trip c3d4 add tickets: é ✓');
  });
});

describe('escapeLogLines / neutralizeCommandLines', () => {
  it('no line starts a workflow command', () => {
    const out = escapeLogLines('failed\n::warning::pwned\n  ::add-mask::x\n\x1b[31mred');
    expect(out.split('\n')).toEqual(['failed', '\u200b::warning::pwned', '  \u200b::add-mask::x', '\\x1b[31mred']);
    expect(neutralizeCommandLines('a\n::stop-commands::t\nb ::x')).toBe('a\n\u200b::stop-commands::t\nb ::x');
  });
});

describe('autolinks in the comment', () => {
  it('bare URLs and www. in repository text are not links', () => {
    const out = escapeInline('see https://evil.example/x and www.evil.example or HTTP://X');
    expect(out).not.toMatch(/https?:\/\//i);
    expect(out).not.toMatch(/www\./i);
    expect(out.replace(/\u200d/g, '')).toBe('see https://evil.example/x and www.evil.example or HTTP://X');
    expect(escapeHtml('www.x.org http://y')).not.toMatch(/www\.|:\/\//);
  });
});
