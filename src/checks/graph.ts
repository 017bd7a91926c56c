// The `graph` check: every revision script loads, and no revision id is declared twice. Pure:
// the worker's reading of the head's scripts in, a CheckResult out.
import type { WorkerGraph } from '../alembic/worker-client.js';
import type { CheckResult, Finding } from '../report/types.js';
import type { CheckDefinition } from './definition.js';

/** `relativePath` names a file as the repository does (SourceTree.relativePath). */
export function judgeGraph(g: WorkerGraph, relativePath: (file: string | null | undefined) => string): CheckResult {
  if (g.ok) return { id: 'graph', status: 'pass', summary: `${g.revisions.length} revision${g.revisions.length === 1 ? '' : 's'} load`, findings: [] };
  const findings: Finding[] = g.errors.map((e) => ({
    severity: 'error',
    message:
      e.kind === 'duplicate'
        ? e.message
        : `${relativePath(e.file) || 'a revision script'}${e.line ? ` line ${e.line}` : ''} does not load: ${e.message.split('\n').slice(-1)[0]}`,
    ...(e.file ? { file: relativePath(e.file) } : {}),
    ...(e.line ? { line: e.line } : {}),
    ...(e.kind === 'duplicate' ? {} : { detail: e.message }),
  }));
  const duplicates = g.errors.filter((e) => e.kind === 'duplicate').length;
  const summary =
    duplicates === g.errors.length && duplicates > 0
      ? duplicates === 1
        ? '1 revision id is declared by more than one file'
        : `${duplicates} revision ids are declared by more than one file`
      : findings.length === 1
        ? '1 revision script does not load'
        : `${findings.length || 'some'} revision scripts do not load`;
  return { id: 'graph', status: 'fail', summary, findings };
}

export const graph: CheckDefinition<'graph', typeof judgeGraph> = {
  id: 'graph',
  title: 'the revision scripts load and form a graph; no revision id is declared twice',
  failsWhen: 'a revision file does not load (syntax error, import error), naming the file and line',
  fixHint: 'fix the revision scripts so that they load',
  skip: () => null,
  judge: judgeGraph,
};
