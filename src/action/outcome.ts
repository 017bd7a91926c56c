// What the action does with a report: fail or pass the job, comment or not, which annotations.
// Pure functions over the report so that main.ts stays a thin sequence of I/O.
import type { CheckId, Report } from '../report/types.js';
import type { CommentMode } from './inputs.js';

export interface Outcome {
  /** The job fails: status error, or a check listed in fail-on failed. */
  failing: boolean;
  /** The one message for core.setFailed when failing. */
  message?: string;
}

export function outcomeOf(report: Report, failOn: readonly CheckId[]): Outcome {
  if (report.status === 'error' || report.checks.some((c) => c.status === 'error')) {
    const errored = report.checks.filter((c) => c.status === 'error');
    const why = report.error
      ? firstLine(report.error)
      : errored.map((c) => `${c.id}: ${c.summary}`).join('; ') || 'unknown error';
    return {
      failing: true,
      message: `alembic-gate could not run: ${why} See the job summary for the full report.`,
    };
  }
  const failed = report.checks.filter((c) => c.status === 'fail' && failOn.includes(c.id));
  if (failed.length === 0) return { failing: false };
  const hints: Partial<Record<CheckId, string>> = {
    graph: 'fix the revision scripts so that they load',
    heads: 'merge the heads with `alembic merge heads` or rebase your revision onto the base head',
    history: "restore the base's revisions and put the change in a new revision",
    upgrade: 'fix the migration that fails to apply',
    roundtrip: 'make downgrade() undo exactly what upgrade() does',
    drift: 'add a migration for the model change (the suggested migration is in the job summary)',
    data: 'make the migration work on tables with rows (a server_default, or add nullable, backfill, then NOT NULL) and keep rows through the round trip',
    compat: 'change the schema in expand/contract steps, so the deployed code keeps working until the new code is out',
    locks: 'build indexes concurrently and split rewrites and validations so existing tables are not blocked (or acknowledge one with a reason in the revision file)',
  };
  const parts = failed.map((c) => `${c.id} (${c.summary}): ${hints[c.id] ?? 'see the findings'}`);
  return {
    failing: true,
    message: `alembic-gate: ${failed.length} ${failed.length === 1 ? 'check' : 'checks'} failed. ${parts.join('; ')}.`,
  };
}

export type CommentAction = 'create' | 'update' | 'skip';

/** always: create or update; on-failure: create when failing, update an existing one either way (so it turns green); never. */
export function commentAction(mode: CommentMode, failing: boolean, existing: boolean): CommentAction {
  if (mode === 'never') return 'skip';
  if (existing) return 'update';
  if (mode === 'always' || failing) return 'create';
  return 'skip';
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  title: string;
  file: string;
  startLine?: number;
}

/** One annotation per finding that names a file. */
export function annotationsOf(report: Report): Annotation[] {
  const out: Annotation[] = [];
  for (const check of report.checks) {
    for (const f of check.findings) {
      if (!f.file) continue;
      out.push({
        level: f.severity,
        title: `alembic-gate ${check.id}${f.revision ? ` (${f.revision})` : ''}`,
        message: f.detail ? `${f.message}\n\n${f.detail}` : f.message,
        file: f.file,
        startLine: f.line,
      });
    }
  }
  return out;
}

/** A report for a run that broke before or inside the engine, so the summary and comment still say why. */
export function crashReport(opts: {
  message: string;
  baseSha?: string;
  headSha?: string;
  workingDirectory: string;
  alembicConfig: string;
  roundtrip: 'new' | 'all' | 'none';
  version: string;
  totalMs: number;
}): Report {
  return {
    schemaVersion: 1,
    status: 'error',
    tool: { name: 'alembic-gate', version: opts.version },
    base: { ref: opts.baseSha ?? '', sha: opts.baseSha ?? '', heads: [] },
    head: { sha: opts.headSha ?? '', heads: [] },
    database: { engine: 'postgresql', version: 'unknown', provider: 'none' },
    config: { alembicConfig: opts.alembicConfig, workingDirectory: opts.workingDirectory, roundtrip: opts.roundtrip },
    checks: [],
    revisions: [],
    drift: { operations: [], suggestedMigration: null },
    sql: [],
    notices: [],
    error: opts.message,
    timings: { totalMs: opts.totalMs },
  };
}

function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s;
  return /[.!?]$/.test(line.trim()) ? line.trim() : `${line.trim()}.`;
}
