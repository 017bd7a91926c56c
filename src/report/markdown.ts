// Report -> GitHub-flavoured markdown, for the pull-request comment, the job summary and
// `alembic-gate check --format markdown`. Pure. Every piece of text that comes from the
// repository under test goes through ./escape.ts.
//
// Size: a comment may hold 65,536 characters. When the full rendering is longer, detail is
// dropped in steps (passing revisions, long SQL, all SQL, findings' detail) and, if that is not
// enough, the rendering is cut between blocks - never inside a code block or a table row - and
// ends with a line that says where the full report is.
import { engineName } from '../engines/index.js';
import type { CheckStatus, Finding, Report, RevisionReport, SqlPreview, StepResult } from './types.js';
import { blobUrl, codeBlock, codeSpan, escapeCell, escapeHtml, escapeInline, escapeProse, link } from './escape.js';
import { renderRevisionGraph } from './graph.js';
import { inCheckOrder } from '../checks/registry.js';
import {
  CHECK_STATUS_ORDER,
  formatMs,
  phaseName,
  phaseTimings,
  plural,
  revisionPassed,
  shortSha,
  verdictText,
} from './format.js';

export interface MarkdownOptions {
  /** https://github.com/<owner>/<repo>: file links point at `<repoUrl>/blob/<headSha>/<file>#L<line>`. */
  repoUrl?: string;
  /** Commit the file links point at (the pull request's head); defaults to report.head.sha. */
  headSha?: string;
  /** Hidden marker put on the first line (the sticky comment is found again by it). Trusted. */
  marker?: string;
  /** Character limit; unlimited when undefined. */
  maxLength?: number;
  /** Trusted markdown saying where the full report is (shown when detail was left out). */
  summaryHint?: string;
}

const DEFAULT_HINT = 'The full report is in the job summary and in the JSON report (the `report` output).';

/** How much detail a rendering keeps; higher levels keep less. */
interface Level {
  passingRevisions: boolean;
  sqlLines: number; // 0 = no SQL at all
  findingDetail: boolean;
  detailLines: number;
  findingsPerCheck: number;
}

const LEVELS: Level[] = [
  { passingRevisions: true, sqlLines: Infinity, findingDetail: true, detailLines: 200, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: Infinity, findingDetail: true, detailLines: 200, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 40, findingDetail: true, detailLines: 60, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 0, findingDetail: true, detailLines: 30, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: Infinity },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: 200 },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: 100 },
  { passingRevisions: false, sqlLines: 0, findingDetail: false, detailLines: 0, findingsPerCheck: 25 },
];

/** A unit of output that is either kept whole or left out; tables may be cut between rows. */
interface Block {
  kind: 'text' | 'table';
  text: string;
}

const STATUS_ICON: Record<CheckStatus, string> = { pass: '✅', fail: '❌', error: '⚠️', skip: '⏭️' };
const VERDICT_ICON = { pass: '✅', fail: '❌', error: '⚠️' } as const;
const STEP_ICON: Record<StepResult['status'], string> = { ok: '✅', failed: '❌', timeout: '⏱️', skipped: '⏭️' };

export function renderMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const max = opts.maxLength;
  for (let i = 0; i < LEVELS.length; i++) {
    const blocks = renderBlocks(report, opts, LEVELS[i]!, i > 0);
    const text = join(blocks);
    if (max === undefined || text.length <= max) return text;
    if (i === LEVELS.length - 1) return truncate(blocks, max, opts);
  }
  /* c8 ignore next */
  throw new Error('unreachable');
}

function join(blocks: Block[]): string {
  return `${blocks.map((b) => b.text).join('\n\n')}\n`;
}

function hint(opts: MarkdownOptions): string {
  return opts.summaryHint ?? DEFAULT_HINT;
}

function renderBlocks(report: Report, opts: MarkdownOptions, level: Level, trimmed: boolean): Block[] {
  const out: Block[] = [];
  const text = (t: string): void => void out.push({ kind: 'text', text: t });
  const sha = opts.headSha ?? report.head.sha;
  const fileLink = (file: string, line?: number): string =>
    link(line ? `${file}:${line}` : file, blobUrl(opts.repoUrl, sha, file, line));

  if (opts.marker) text(opts.marker);
  text(`## ${VERDICT_ICON[report.status]} alembic-gate: ${verdictText(report)}`);
  text(contextLine(report));
  if (trimmed) text(`> [!NOTE]\n> Some detail was left out to fit GitHub's size limit. ${hint(opts)}`);

  if (report.status === 'error' && report.error) {
    text(`**The gate could not run to the end.** ${escapeProse(firstLine(report.error))}`);
    if (report.error.includes('\n')) text(codeBlock(report.error, 'text'));
  }

  // The checks in registry order (src/checks/registry.ts), whatever order the report has them in.
  const checks = inCheckOrder(report.checks);
  if (checks.length > 0) {
    const rows = checks.map(
      (c) => `| ${codeSpan(c.id, { inTable: true })} | ${STATUS_ICON[c.status]} ${c.status} | ${escapeCell(c.summary)} |`,
    );
    out.push({ kind: 'table', text: ['| Check | Status | Summary |', '| --- | --- | --- |', ...rows].join('\n') });
  }

  // Where the change sits in the history.
  const graph = renderRevisionGraph(report);
  if (graph) {
    text('### Revision graph');
    text(graph);
  }

  // Findings, worst checks first: each once, under its check.
  const drift = report.drift;
  const withFindings = checks
    .filter((c) => c.findings.length > 0)
    .sort((a, b) => CHECK_STATUS_ORDER[a.status] - CHECK_STATUS_ORDER[b.status]);
  for (const check of withFindings) {
    text(`### ${STATUS_ICON[check.status]} ${codeSpan(check.id)}: ${escapeInline(check.summary)}`);
    // One list: items without folded detail stay on consecutive lines (a tight list).
    const shown = check.findings.slice(0, level.findingsPerCheck);
    const table = check.id === 'locks' ? locksTable(shown, fileLink) : null;
    if (table) out.push({ kind: 'table', text: table });
    const items = table ? [] : shown.map((f) => renderFinding(f, level, fileLink));
    if (items.length > 0) text(items.join(items.some((i) => i.includes('\n')) ? '\n\n' : '\n'));
    const more = check.findings.length - shown.length;
    if (more > 0) text(`... and ${plural(more, 'more finding')} (left out to fit GitHub's size limit). ${hint(opts)}`);
    if (check.id === 'drift' && drift.suggestedMigration) {
      text('The `upgrade()` that `alembic revision --autogenerate` would write:');
      text(codeBlock(drift.suggestedMigration, 'python'));
      if (drift.suggestedDowngrade) {
        text(`<details><summary>and its downgrade()</summary>\n\n${codeBlock(drift.suggestedDowngrade, 'python')}\n\n</details>`);
      }
    }
  }

  // New revisions with their step timings.
  const fresh = report.revisions.filter((r) => r.isNew);
  text('### New revisions');
  if (fresh.length === 0) {
    text('This change adds no revision.');
  } else {
    const shown = level.passingRevisions ? fresh : fresh.filter((r) => !revisionPassed(r));
    // Which checks have something to say about each revision (their findings are above).
    const flagged = (rev: string): string =>
      checks
        .filter((c) => (c.status === 'fail' || c.status === 'error') && c.findings.some((f) => f.revision === rev))
        .map((c) => codeSpan(c.id, { inTable: true }))
        .join(' ') || '–';
    if (shown.length > 0) {
      const rows = shown.map(
        (r) =>
          `| ${codeSpan(r.revision, { inTable: true })} | ${escapeCell(r.message)} | ${fileLink(r.file)} | ` +
          `${step(r.steps.upgrade)} | ${step(r.steps.downgrade)} | ${step(r.steps.reupgrade)} | ${flagged(r.revision)} |`,
      );
      out.push({
        kind: 'table',
        text: ['| Revision | Message | File | Upgrade | Downgrade | Re-upgrade | Findings |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n'),
      });
    }
    const hidden = fresh.length - shown.length;
    if (hidden > 0) text(`${plural(hidden, 'more revision')} passed every step (not listed here).`);
  }

  // SQL preview.
  if (report.sql.length > 0) {
    if (level.sqlLines === 0) {
      text(`<details><summary>SQL preview</summary>\n\nLeft out to fit GitHub's size limit. ${hint(opts)}\n\n</details>`);
    } else {
      text('### SQL preview');
      for (const s of report.sql) text(renderSql(s, report.revisions, level.sqlLines));
    }
  }

  if (report.notices.length > 0) {
    text(['### Notes', ...report.notices.map((n) => `- ${escapeInline(n)}`)].join('\n'));
  }

  text(footer(report));
  return out;
}

function contextLine(report: Report): string {
  const parts: string[] = [];
  const baseRef = report.base.ref && report.base.ref !== report.base.sha ? `${codeSpan(report.base.ref)} ` : '';
  parts.push(`Base ${baseRef}${codeSpan(shortSha(report.base.sha))} → head ${codeSpan(shortSha(report.head.sha))}`);
  const fresh = report.revisions.filter((r) => r.isNew).length;
  parts.push(plural(fresh, 'new revision'));
  const cfg = report.config;
  parts.push(`config ${codeSpan(cfg.workingDirectory === '.' ? cfg.alembicConfig : `${cfg.workingDirectory}/${cfg.alembicConfig}`)}`);
  parts.push(formatMs(report.timings.totalMs));
  return parts.join(' · ');
}

const SEVERITY_ICON: Record<Finding['severity'], string> = { error: '❌', warning: '⚠️', notice: 'ℹ️' };

/**
 * The locks check's findings as one table: a row per finding, from the fields the check puts
 * at the end of each detail (Statement, Table, Lock, Waits) and its first line (Fix, or
 * Acknowledged). Null when a finding lacks them, and the findings are listed as usual.
 */
function locksTable(findings: Finding[], fileLink: (file: string, line?: number) => string): string | null {
  const rows: string[] = [];
  for (const f of findings) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(f.detail ?? '')?.[1];
    const statement = field('Statement');
    const table = field('Table');
    const lock = field('Lock');
    const waits = field('Waits');
    const rule = /\((locks\/[a-z-]+)\)/.exec(f.message)?.[1];
    if (!statement || !table || !lock || !waits || !rule) return null;
    const fix = field('Fix') ?? (field('Acknowledged') !== undefined ? `acknowledged: ${field('Acknowledged')}` : '');
    const where = `${f.revision ? `${codeSpan(f.revision, { inTable: true })} ` : ''}${f.file ? fileLink(f.file, f.line) : ''}`;
    const phase = /^(upgrade|downgrade)\b/.exec(f.message.replace(/^acknowledged: /, ''))?.[1] ?? '';
    const sql = statement.length > 80 ? `${statement.slice(0, 79)}…` : statement;
    rows.push(
      `| ${SEVERITY_ICON[f.severity]} ${codeSpan(rule, { inTable: true })} | ${where} | ${phase} | ${codeSpan(sql, { inTable: true })} | ${escapeCell(table)} | ${escapeCell(lock)} | ${escapeCell(waits)} | ${escapeProse(fix).replace(/\|/g, '\\|')} |`,
    );
  }
  if (rows.length === 0) return null;
  return ['| Rule | Revision | Step | Statement | Table | Lock | Waits | Instead |', '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

function renderFinding(f: Finding, level: Level, fileLink: (file: string, line?: number) => string): string {
  const where: string[] = [`**${f.severity}**`];
  if (f.revision) where.push(`revision ${codeSpan(f.revision)}`);
  if (f.file) where.push(fileLink(f.file, f.line));
  let item = `- ${where.join(' · ')}: ${escapeProse(f.message)}`;
  if (f.detail && level.findingDetail) {
    const detail = indent(codeBlock(tailLines(f.detail, level.detailLines), 'text'), '  ');
    item += `\n\n  <details><summary>Detail</summary>\n\n${detail}\n\n  </details>`;
  }
  return item;
}

function renderSql(s: SqlPreview, revisions: RevisionReport[], maxLines: number): string {
  const rev = revisions.find((r) => r.revision === s.revision);
  const title = `${escapeHtml(s.revision)}${rev ? ` ${escapeHtml(rev.message)}` : ''}`;
  const parts: string[] = [];
  if (s.error) parts.push(`Could not render SQL: ${escapeInline(s.error)}`);
  if (s.upgrade !== null) parts.push(`Upgrade:\n\n${codeBlock(headLines(s.upgrade, maxLines), 'sql')}`);
  if (s.downgrade !== null) parts.push(`Downgrade:\n\n${codeBlock(headLines(s.downgrade, maxLines), 'sql')}`);
  return `<details><summary>SQL: ${title}</summary>\n\n${parts.join('\n\n')}\n\n</details>`;
}

function footer(report: Report): string {
  const parts = [`${escapeInline(report.tool.name)} ${escapeInline(report.tool.version)}`];
  parts.push(`${escapeInline(engineName(report.database.engine))} ${escapeInline(report.database.version)} (${escapeInline(report.database.provider)})`);
  if (report.python) {
    parts.push(
      `Python ${escapeInline(report.python.version)}, Alembic ${escapeInline(report.python.alembic)}, SQLAlchemy ${escapeInline(report.python.sqlalchemy)}`,
    );
  }
  const phases = phaseTimings(report).map(([k, v]) => `${escapeInline(phaseName(k))} ${formatMs(v)}`);
  parts.push(`total ${formatMs(report.timings.totalMs)}${phases.length ? ` (${phases.join(', ')})` : ''}`);
  return `<sub>${parts.join(' · ')}</sub>`;
}

function step(s: StepResult | undefined): string {
  if (!s) return '-';
  return s.status === 'skipped' ? `${STEP_ICON.skipped} skipped` : `${STEP_ICON[s.status]} ${formatMs(s.ms)}`;
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '') ?? '';
}

function indent(s: string, pad: string): string {
  return s
    .split('\n')
    .map((l) => (l === '' ? l : pad + l))
    .join('\n');
}

function headLines(s: string, n: number): string {
  const lines = s.replace(/\n+$/, '').split('\n');
  if (lines.length <= n) return lines.join('\n');
  return [...lines.slice(0, n), `-- ... ${lines.length - n} more lines left out`].join('\n');
}

/** Keeps the end of long output: tracebacks and database errors say what went wrong last. */
function tailLines(s: string, n: number): string {
  const lines = s.replace(/\n+$/, '').split('\n');
  if (lines.length <= n) return lines.join('\n');
  return [`... ${lines.length - n} lines left out`, ...lines.slice(-n)].join('\n');
}

/** Keeps whole blocks (and whole table rows) while they fit, then says where the rest is. */
function truncate(blocks: Block[], max: number, opts: MarkdownOptions): string {
  const notice = `---\n\n✂️ **Report truncated** to fit GitHub's size limit. ${hint(opts)}`;
  const budget = max - notice.length - 4; // separators and final newline
  const kept: string[] = [];
  let used = 0;
  for (const b of blocks) {
    const cost = b.text.length + 2;
    if (used + cost <= budget) {
      kept.push(b.text);
      used += cost;
      continue;
    }
    if (b.kind === 'table') {
      const lines = b.text.split('\n');
      const rows: string[] = lines.slice(0, 2);
      let tableCost = rows.join('\n').length + 2;
      for (const row of lines.slice(2)) {
        if (used + tableCost + row.length + 1 > budget) break;
        rows.push(row);
        tableCost += row.length + 1;
      }
      if (rows.length > 2) kept.push(rows.join('\n'));
    }
    break;
  }
  return `${[...kept, notice].join('\n\n')}\n`;
}
