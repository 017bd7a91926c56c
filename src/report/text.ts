// Report -> plain text for a terminal (`alembic-gate check --format text`). Pure.
// ANSI colour only when asked; text from the repository is stripped of control characters so
// that a migration message cannot move the cursor or recolour the terminal.
import { engineName } from '../engines/index.js';
import type { CheckStatus, Report, StepResult } from './types.js';
import { stripControl } from './escape.js';
import { inCheckOrder } from '../checks/registry.js';
import { CHECK_STATUS_ORDER, formatMs, phaseName, phaseTimings, plural, shortSha, verdictText } from './format.js';

export interface TextOptions {
  color: boolean;
}

type Style = 'red' | 'green' | 'yellow' | 'dim' | 'bold' | 'cyan';
const ANSI: Record<Style, [number, number]> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

const CHECK_MARK: Record<CheckStatus, [string, Style]> = {
  pass: ['✔', 'green'],
  fail: ['✖', 'red'],
  error: ['!', 'yellow'],
  skip: ['-', 'dim'],
};
const STEP_MARK: Record<StepResult['status'], [string, Style]> = {
  ok: ['ok', 'green'],
  failed: ['FAILED', 'red'],
  timeout: ['TIMEOUT', 'red'],
  skipped: ['skipped', 'dim'],
};

export function renderText(report: Report, opts: TextOptions): string {
  const paint = (style: Style, s: string): string => (opts.color ? `\u001b[${ANSI[style][0]}m${s}\u001b[${ANSI[style][1]}m` : s);
  const clean = (s: string): string => stripControl(s);
  const oneLine = (s: string): string => clean(s).replace(/\s*\n\s*/g, ' ').trim();
  const lines: string[] = [];
  const push = (...l: string[]): void => void lines.push(...l);

  const verdictStyle: Style = report.status === 'pass' ? 'green' : report.status === 'fail' ? 'red' : 'yellow';
  const verdictMark = report.status === 'pass' ? '✔' : report.status === 'fail' ? '✖' : '!';
  push(paint('bold', paint(verdictStyle, `${verdictMark} alembic-gate: ${verdictText(report)}`)));
  const baseRef = report.base.ref && report.base.ref !== report.base.sha ? `${oneLine(report.base.ref)} ` : '';
  push(
    paint(
      'dim',
      `  base ${baseRef}${shortSha(report.base.sha)} -> head ${shortSha(report.head.sha)}, ` +
        `${plural(report.revisions.filter((r) => r.isNew).length, 'new revision')}, ` +
        `${oneLine(engineName(report.database.engine))} ${oneLine(report.database.version)} (${oneLine(report.database.provider)})`,
    ),
  );

  if (report.status === 'error' && report.error) {
    push('', paint('yellow', paint('bold', 'The gate could not run to the end:')));
    push(...indent(clean(report.error), '  '));
  }

  // Checks, aligned, each followed by its findings.
  if (report.checks.length > 0) {
    push('', paint('bold', 'Checks'));
    const idWidth = Math.max(...report.checks.map((c) => c.id.length));
    // Worst first; within a status, in registry order (src/checks/registry.ts).
    const sorted = inCheckOrder(report.checks).sort((a, b) => CHECK_STATUS_ORDER[a.status] - CHECK_STATUS_ORDER[b.status]);
    for (const c of sorted) {
      const [mark, style] = CHECK_MARK[c.status];
      push(`  ${paint(style, mark)} ${c.id.padEnd(idWidth)}  ${paint(style, c.status.padEnd(5))}  ${oneLine(c.summary)}`);
      for (const f of c.findings) {
        const where = [f.revision ? oneLine(f.revision) : '', f.file ? `${oneLine(f.file)}${f.line ? `:${f.line}` : ''}` : '']
          .filter(Boolean)
          .join('  ');
        const sevStyle: Style = f.severity === 'error' ? 'red' : f.severity === 'warning' ? 'yellow' : 'dim';
        push(`      ${paint(sevStyle, f.severity)}  ${where ? `${paint('cyan', where)}  ` : ''}${oneLine(f.message)}`);
        if (f.detail) push(...indent(tail(clean(f.detail), 20), '          ').map((l) => paint('dim', l)));
      }
    }
  }

  const differing = report.revisions.filter((r) => r.differences.length > 0);
  if (differing.length > 0) {
    push('', paint('bold', 'Round-trip differences'));
    for (const r of differing) {
      push(`  ${paint('cyan', oneLine(r.revision))}  ${oneLine(r.message)}  ${paint('dim', oneLine(r.file))}`);
      for (const d of r.differences) push(`    - ${oneLine(d)}`);
    }
  }

  if (report.drift.operations.length > 0 || report.drift.suggestedMigration) {
    push('', paint('bold', 'Drift: models vs. migrated schema'));
    for (const op of report.drift.operations) push(`  - ${paint('cyan', oneLine(op.kind))}  ${oneLine(op.message)}`);
    if (report.drift.suggestedMigration) {
      push('', '  Suggested migration (upgrade body that `alembic revision --autogenerate` would write):');
      push(...indent(clean(report.drift.suggestedMigration), '    '));
    }
  }

  const fresh = report.revisions.filter((r) => r.isNew);
  if (fresh.length > 0) {
    push('', paint('bold', 'New revisions'));
    const revWidth = Math.max(8, ...fresh.map((r) => oneLine(r.revision).length));
    const cell = (s: StepResult | undefined): [string, number] => {
      if (!s) return ['-', 1];
      const [word, style] = STEP_MARK[s.status];
      const plain = s.status === 'skipped' ? word : `${word} ${formatMs(s.ms)}`;
      return [paint(style, plain), plain.length];
    };
    const pad = ([s, len]: [string, number], w: number): string => s + ' '.repeat(Math.max(0, w - len));
    push(paint('dim', `  ${'revision'.padEnd(revWidth)}  ${'upgrade'.padEnd(14)}${'downgrade'.padEnd(14)}${'re-upgrade'.padEnd(14)}message`));
    for (const r of fresh) {
      push(
        `  ${oneLine(r.revision).padEnd(revWidth)}  ${pad(cell(r.steps.upgrade), 14)}${pad(cell(r.steps.downgrade), 14)}` +
          `${pad(cell(r.steps.reupgrade), 14)}${oneLine(r.message)}`,
      );
    }
  }

  if (report.notices.length > 0) {
    push('', paint('bold', 'Notes'));
    for (const n of report.notices) push(`  - ${oneLine(n)}`);
  }

  const phases = phaseTimings(report).map(([k, v]) => `${phaseName(k)} ${formatMs(v)}`);
  push('', paint('dim', `Total ${formatMs(report.timings.totalMs)}${phases.length ? ` (${phases.join(', ')})` : ''}`));
  return `${lines.join('\n')}\n`;
}

function indent(s: string, pad: string): string[] {
  return s.replace(/\n+$/, '').split('\n').map((l) => (l === '' ? '' : pad + l));
}

function tail(s: string, n: number): string {
  const lines = s.replace(/\n+$/, '').split('\n');
  return lines.length <= n ? lines.join('\n') : [`... ${lines.length - n} lines left out`, ...lines.slice(-n)].join('\n');
}
