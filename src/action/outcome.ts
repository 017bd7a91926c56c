// What the action does with a report: fail or pass the job, comment or not, which annotations.
// Pure functions over the report so that main.ts stays a thin sequence of I/O.
import { checkById, inCheckOrder } from '../checks/registry.js';
import { DEFAULT_ENGINE, type EngineId } from '../engines/index.js';
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
  // Each check's one-line advice (its fixHint in src/checks/<id>.ts), in report order.
  const parts = inCheckOrder(failed).map((c) => `${c.id} (${c.summary}): ${checkById(c.id).fixHint}`);
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
    database: { engine: DEFAULT_ENGINE.id as EngineId, version: 'unknown', provider: 'none' },
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
