// What every check is (src/checks/<id>.ts each export one, registry.ts lists them): an id, the
// words readers see about it, its skip rule and its judge. A judge is pure: the observations the
// gate collected (graph, walk, drift, statement traces, row fingerprints) in, a CheckResult out.
// This file imports nothing at run time, so check files and the registry can both import it.
import type { EngineCapabilities } from '../engines/engine.js';
import type { CheckResult } from '../report/types.js';

/** What the skip rules look at: the engine, the options and what the graph and the walk found. */
export interface SkipContext {
  engine: { name: string; capabilities: EngineCapabilities };
  roundtrip: 'new' | 'all' | 'none';
  /** The head's revision scripts load (the graph check could build a graph). */
  graphLoads: boolean;
  /** The base has an Alembic setup (it may still have no revisions). */
  hasBase: boolean;
  /** Revisions the head adds to the base. */
  newRevisions: number;
  /** Revisions of the base. */
  baseRevisions: number;
  /** Revisions of the head, the new ones included. */
  headRevisions: number;
  /** The database reached the head's revisions (true until the walk says otherwise). */
  reachedHead: boolean;
  /** `data`: synthetic rows per table, and whether the team's own rows (--seed-sql) are loaded. */
  seedRows: number;
  seedSql: boolean;
  /** The locks the new revisions take are observed (ALEMBIC_GATE_LOCKS is not off). */
  locksObserved: boolean;
}

export interface CheckDefinition<Id extends string = string, Judge extends (...observations: never[]) => CheckResult = (...observations: never[]) => CheckResult> {
  /** The id in reports, --fail-on and the comment (a contract: see DESIGN.md). */
  id: Id;
  /** What the check checks, in a few words (the README's table). */
  title: string;
  /** When it fails (the README's table). */
  failsWhen: string;
  /** One line: what to do when it fails (the action's failure message, the README). */
  fixHint: string;
  /** Why it does not run in this context (the skip's summary), or null when it runs. */
  skip(ctx: SkipContext): string | null;
  /** Observations in, the check's result out. */
  judge: Judge;
}

/** Every check but `graph` needs the revision graph. */
export const NO_GRAPH = 'the revision scripts do not load (see graph)';

export function skipped(id: CheckResult['id'], summary: string): CheckResult {
  return { id, status: 'skip', summary, findings: [] };
}
