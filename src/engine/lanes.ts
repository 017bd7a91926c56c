// Long walks in parallel: the revisions in graph order are cut into contiguous chunks, one per
// lane. Lane 0 starts from the given database; every other lane gets its own database and
// Python worker and first fast-forwards, in one upgrade, to the state just before its chunk.
// A lane whose fast-forward fails (a revision in an earlier chunk does not apply) gives its
// chunk back, and lane 0 walks it afterwards, so the outcome is the same as one sequential walk.
import { availableParallelism } from 'node:os';
import { SourceTree, type DatabaseTarget } from '../alembic/tree.js';
import type { ThrowawayServer } from '../engines/engine.js';
import type { RevisionNode } from '../graph/graph.js';
import type { RevisionReport } from '../report/types.js';
import type { ProgressSink } from './options.js';
import { targetDatabases } from './target.js';
import { RoundTripper, databaseWith, type RoundTripResult, type WalkState } from './roundtrip.js';
import type { Stopwatch } from './stopwatch.js';

/** Below this many revisions a second lane costs more (worker start, database) than it saves. */
export const MIN_REVISIONS_PER_LANE = 30;

export function laneCount(revisions: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, 4, Math.floor(revisions / MIN_REVISIONS_PER_LANE)));
}

/**
 * Contiguous chunks in graph order. Later lanes start later (a worker to start, a database to
 * fast-forward) and walk larger schemas, so earlier lanes take a larger share: lane i's weight
 * is 1 - 0.2 i, normalised. The last lane ends at the head and goes on with drift and the SQL
 * preview while the others finish (LaneContext.afterLastLane): it takes 0.15 less again.
 */
export function splitForLanes(revisions: string[], lanes: number): string[][] {
  const weights = Array.from({ length: lanes }, (_, i) => 1 - 0.2 * i - (lanes > 1 && i === lanes - 1 ? 0.15 : 0));
  const total = weights.reduce((a, b) => a + b, 0);
  const chunks: string[][] = [];
  let start = 0;
  for (const [i, w] of weights.entries()) {
    const end = i === lanes - 1 ? revisions.length : Math.min(revisions.length, start + Math.round((revisions.length * w) / total));
    chunks.push(revisions.slice(start, end));
    start = end;
  }
  return chunks.filter((c) => c.length > 0);
}

export interface LaneContext {
  db: ThrowawayServer;
  /** Lane 0's tree, already pointed at `target`. */
  tree: SourceTree;
  /** Makes another worker for the same tree (started, not yet pointed at a database). */
  spawnTree: () => Promise<SourceTree>;
  stepTimeoutMs: number;
  /** --allow-irreversible */
  allowIrreversible?: boolean;
  progress: ProgressSink;
  clock: Stopwatch;
  /** Registers something to release when the gate ends. */
  hold: (release: () => Promise<void>) => void;
  /**
   * Runs on the last lane's tree, pointed at its database, as soon as that lane is done (the
   * others may still be walking). If no chunk is deferred, that database is where the walk ends.
   */
  afterLastLane?: (tree: SourceTree, target: DatabaseTarget) => Promise<void>;
}

export interface WalkResult {
  /** Results in chunk order. */
  results: RoundTripResult[];
  walk: WalkState;
  /** The database at the end of the walk (where the last chunk ended). */
  target: DatabaseTarget;
}

export async function walkInLanes(ctx: LaneContext, target: DatabaseTarget, revisions: string[], nodes: Map<string, RevisionNode>, byRev: Map<string, RevisionReport>, applied: Set<string>): Promise<WalkResult> {
  const lanes = laneCount(revisions.length);
  let counter = 0;
  const tick = () => ++counter;
  const first = new RoundTripper(ctx.db, ctx.tree, ctx.stepTimeoutMs, ctx.progress, ctx.clock, ctx.allowIrreversible);
  ctx.hold(() => first.close());
  const walk: WalkState = { applied, blocked: new Set() };
  if (lanes === 1) {
    const r = await first.run(target, revisions, nodes, byRev, walk, tick, revisions.length);
    return { results: [r], walk, target: r.target };
  }

  const chunks = splitForLanes(revisions, lanes);
  const runLane = async (chunk: string[], i: number): Promise<{ result: RoundTripResult; walk: WalkState } | null> => {
    if (i === 0) return { result: await first.run(target, chunk, nodes, byRev, walk, tick, revisions.length), walk };
    // Everything before this chunk: the base's revisions plus the earlier chunks.
    const before = new Set([...applied, ...chunks.slice(0, i).flat()]);
    const tree = await ctx.spawnTree();
    ctx.hold(() => tree.close());
    let laneTarget: DatabaseTarget;
    try {
      laneTarget = await ctx.clock.time('fastForwardMs', () => databaseWith(ctx.db, tree, nodes, before, ctx.stepTimeoutMs, target));
    } catch {
      await tree.close();
      return null; // an earlier revision does not apply: lane 0 walks this chunk afterwards
    }
    const tripper = new RoundTripper(ctx.db, tree, ctx.stepTimeoutMs, ctx.progress, ctx.clock, ctx.allowIrreversible);
    ctx.hold(() => tripper.close());
    const laneWalk: WalkState = { applied: before, blocked: new Set() };
    const result = await tripper.run(laneTarget, chunk, nodes, byRev, laneWalk, tick, revisions.length);
    // The tree is on result.target: the walk pointed it at every database it rebuilt.
    if (i === chunks.length - 1 && ctx.afterLastLane) await ctx.afterLastLane(tree, result.target).catch(() => {});
    await tree.close();
    return { result, walk: laneWalk };
  };
  const laneRuns = chunks.map((chunk, i) => ctx.clock.time(`lane${i}Ms`, () => runLane(chunk, i)));
  const settled = await Promise.all(laneRuns);

  const results: RoundTripResult[] = [];
  let end = settled[0]!.result.target;
  for (const [i, lane] of settled.entries()) {
    if (lane) {
      results.push(lane.result);
      for (const r of lane.walk.applied) walk.applied.add(r);
      for (const r of lane.walk.blocked) walk.blocked.add(r);
      end = lane.result.target;
      continue;
    }
    // Deferred: continue the walk on the database where the previous chunk ended, which is in
    // exactly the state this chunk needs.
    await ctx.tree.useDatabase(end);
    const r = await first.run(end, chunks[i]!, nodes, byRev, walk, tick, revisions.length);
    results.push(r);
    end = r.target;
  }
  // Databases of lanes that did not end the walk are done with: drop them now, not at exit.
  const used = new Set(results.flatMap((r) => targetDatabases(r.target).map((d) => d.database)));
  for (const d of targetDatabases(end)) used.delete(d.database);
  await Promise.all([...used].map((name) => ctx.db.dropDatabase(name).catch(() => {})));
  return { results, walk, target: end };
}
