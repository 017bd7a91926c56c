// Text that comes from the repository under test (migration messages, error output, identifiers,
// file names) is untrusted: a pull request author controls it. These helpers make sure it is shown
// as text and nothing else: no HTML, no markdown structure, no table breaks, no code-fence
// escapes, no @-mentions, no terminal control sequences.

const ZWJ = '\u200d';

/** Control characters other than tab and newline, and Unicode bidi overrides (Trojan Source). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Removes control characters (ANSI escapes, carriage returns, bidi overrides); keeps \n and \t. */
export function stripControl(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(CONTROL, '');
}

/** `@user` and `@org/team` must not notify anyone: put a zero-width joiner after the `@`. */
export function neutralizeMentions(s: string): string {
  return s.replace(/@(?=[A-Za-z0-9_-])/g, `@${ZWJ}`);
}

/** Bare URLs and `www.` must not become links: a zero-width joiner breaks `://` and `www.`. */
export function neutralizeAutolinks(s: string): string {
  return s.replace(/:\/\//g, `:${ZWJ}//`).replace(/\b(www)\./gi, `$1${ZWJ}.`);
}

/**
 * For text inside HTML (a `<summary>`): entities only, since markdown is not parsed there.
 * Markdown punctuation is encoded as well, in case a renderer parses it anyway; one line.
 */
export function escapeHtml(s: string): string {
  return neutralizeAutolinks(neutralizeMentions(
    stripControl(s)
      .replace(/\s*\n\s*/g, ' ')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/[`*_[\]|!\\]/g, (c) => `&#${c.charCodeAt(0)};`),
  ));
}

// Characters that open markdown structure inline. `#` is left alone (issue auto-links are harmless).
const MARKDOWN_INLINE = /[\\`*_[\]()|~!]/g;

/**
 * For untrusted text in a markdown paragraph or list item, on one line.
 * Newlines become spaces so the text cannot start a heading, list, quote or fence.
 */
export function escapeInline(s: string): string {
  const oneLine = stripControl(s).replace(/\s*\n\s*/g, ' ').trim();
  return neutralizeAutolinks(neutralizeMentions(
    oneLine
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(MARKDOWN_INLINE, (c) => `\\${c}`),
  ));
}

/**
 * Like escapeInline, but text between single backticks (on one line) is shown as code: our own
 * messages name commands that way (`alembic merge heads`). A code span is inert in GitHub's
 * markdown (no HTML, links, mentions or emphasis inside), so this holds for repository text too.
 */
export function escapeProse(s: string): string {
  const oneLine = stripControl(s).replace(/\s*\n\s*/g, ' ').trim();
  const parts = oneLine.split(/`([^`]+)`/);
  return parts
    .map((part, i) => {
      if (i % 2 === 1) return codeSpan(part);
      if (part.trim() === '') return part === '' ? '' : ' ';
      return `${part.startsWith(' ') ? ' ' : ''}${escapeInline(part)}${part.endsWith(' ') ? ' ' : ''}`;
    })
    .join('');
}

/** For untrusted text in a table cell: like escapeInline (which already escapes `|`). */
export function escapeCell(s: string): string {
  return escapeInline(s);
}

/**
 * Untrusted text as inline code. The backtick run delimiting it is longer than any run inside,
 * so the text cannot close it. In a table cell, `|` must still be escaped (GFM splits cells
 * before it parses code spans, and renders `\|` inside code as `|`).
 */
export function codeSpan(s: string, opts: { inTable?: boolean } = {}): string {
  let text = stripControl(s).replace(/\n/g, ' ');
  if (opts.inTable) text = text.replace(/\|/g, '\\|');
  if (text === '') return '` `';
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const tick = '`'.repeat(longest + 1);
  // A space on each side when the text starts or ends with a backtick (CommonMark strips one).
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${tick}${pad}${text}${pad}${tick}`;
}

/**
 * Untrusted text as a fenced code block. The fence is longer than any backtick run in the text,
 * so no line of the text can close it. Mentions and HTML are inert inside code.
 */
export function codeBlock(s: string, lang = ''): string {
  const text = stripControl(s).replace(/\n+$/, '');
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text}\n${fence}`;
}

/** Percent-encodes a path for a URL, including the characters that end a markdown link. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[()!'*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/** `<repoUrl>/blob/<sha>/<file>#L<line>`; undefined when the repository URL or sha is unknown. */
export function blobUrl(repoUrl: string | undefined, sha: string | undefined, file: string, line?: number): string | undefined {
  if (!repoUrl || !sha || !/^[0-9a-f]{7,64}$/i.test(sha)) return undefined;
  const clean = file.replace(/^\.?\//, '');
  if (clean.split('/').includes('..')) return undefined;
  const anchor = line !== undefined && Number.isInteger(line) && line > 0 ? `#L${line}` : '';
  return `${repoUrl.replace(/\/+$/, '')}/blob/${sha}/${encodePath(clean)}${anchor}`;
}

/** A markdown link whose text is untrusted; the URL is built by us (blobUrl). */
export function link(text: string, url: string | undefined): string {
  return url ? `[${escapeInline(text)}](${url})` : escapeInline(text);
}

/**
 * Untrusted text for one line of a job log or terminal: newlines and control characters shown
 * as `\n`, `\x1b`, `\u202e`, so the text cannot start a line with a workflow command
 * (`::warning::`, `::add-mask::`, `::stop-commands::`) nor send ANSI / OSC sequences.
 */
export function escapeLog(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\t';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Multi-line untrusted text for a log or terminal: lines kept, but none starts a workflow command; control characters escaped. */
export function escapeLogLines(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => escapeLog(line).replace(/^(\s*)::/, '$1\u200b::'))
    .join('\n');
}

/** Rendered output whose repository text is already free of control characters: no line may start a workflow command. */
export function neutralizeCommandLines(s: string): string {
  return s.replace(/^([ \t]*)::/gm, '$1\u200b::');
}
