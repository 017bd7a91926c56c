// The gate: provision a throwaway database, apply base then head, round-trip the new
// revisions, compare the models, check the graph, and return the report. Everything it
// starts (database, workers, temp dirs) is released on every path out, signals included.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SourceTree, type DatabaseTarget, type TreeConnections, type TreeLayout } from '../alembic/tree.js';
import { locateProjectConfig } from '../alembic/project-config.js';
import { bootstrapBase, parseBootstrap } from './bootstrap.js';
import { WorkerError } from '../alembic/worker-client.js';
import { provisionDatabase } from '../db/factory.js';
import { registerCleanup } from '../db/cleanup.js';
import { watchOver } from '../db/sentinel.js';
import { checkTempDir } from '../db/scratch.js';
import { judgeLocks, type RevisionFile } from '../checks/locks.js';
import { judgeCompat } from '../checks/compat.js';
import { locksObserved, type ObservedLocks } from './roundtrip.js';
import { GitError, GitRepo } from '../git/git.js';
import { ProvisionError } from '../db/provider.js';
import { checkHeads, checkHistory } from '../graph/checks.js';
import { newRevisions, topologicalOrder } from '../graph/graph.js';
import type { CheckResult, Finding, Report, RevisionReport, SqlPreview } from '../report/types.js';
import { verdictOf } from '../report/types.js';
import { internalErrorText, UserError } from '../util/errors.js';
import { VERSION } from '../version.js';
import type { GateOptions, ProgressSink } from './options.js';
import { added, headsWithin, roundtripCheck as buildRoundtripCheck } from './roundtrip.js';
import { walkInLanes, type LaneContext } from './lanes.js';
import { describeFailure, findingFrom, isEnvFailure } from './steps.js';
import { Stopwatch } from './stopwatch.js';
import { createTarget, gateTarget, targetDatabases } from './target.js';
import { dataWalk } from './data-walk.js';
import type { ThrowawayDatabase } from '../db/provider.js';
import { withClient } from '../db/client.js';

export async function runGate(options: GateOptions, progress: ProgressSink = () => {}): Promise<Report> {
  const clock = new Stopwatch();
  const report = emptyReport(options);
  const resources = new Resources();
  // A second Ctrl-C stops waiting: then only what can be done synchronously is (the exports
  // here; the servers and workers have their own), and the watchdog does the rest.
  const unregister = registerCleanup(() => resources.release(), {
    onExitSync: () => {
      for (const root of resources.exportRoots) rmSync(root, { recursive: true, force: true });
    },
  });
  const redirects = new Set<string>();
  let activity = 'starting';
  const track: ProgressSink = (event) => {
    activity = event.message;
    progress(event);
  };
  try {
    await gate(options, track, report, resources, clock, redirects);
  } catch (err) {
    report.status = 'error';
    report.error = err instanceof UserError || err instanceof WorkerError || err instanceof ProvisionError || err instanceof GitError ? err.message : unexpectedError(err, activity);
  } finally {
    await clock.time('cleanupMs', () => resources.release());
    unregister();
  }
  // First: where the project's connections went is what a reader should know before the rest.
  report.notices.unshift(...redirects);
  for (const root of [...resources.exportRoots, ...(resources.checkoutRoot ? [resources.checkoutRoot] : [])]) scrubPath(report, root);
  report.timings = { ...clock.phases, totalMs: clock.total() };
  return report;
}

/** Everything the run started, released in reverse order. */
class Resources {
  private readonly items: (() => Promise<void>)[] = [];
  /** Temporary exports of commits: their paths mean nothing to a reader and are scrubbed from the report. */
  readonly exportRoots: string[] = [];
  /** The repository's own checkout: scrubbed from the report too (never removed). */
  checkoutRoot: string | undefined;
  add(release: () => Promise<void>): void {
    this.items.push(release);
  }
  private releasing: Promise<void> | null = null;
  /**
   * A signal's cleanup and the run's own `finally` may both release: they share one pass, so
   * neither returns (and lets the process exit) while the other is still removing something.
   */
  release(): Promise<void> {
    this.releasing ??= (async () => {
      while (this.items.length) {
        const fn = this.items.pop()!;
        await fn().catch(() => {});
      }
      this.releasing = null;
    })();
    return this.releasing;
  }
}

function emptyReport(options: GateOptions): Report {
  return {
    schemaVersion: 1,
    status: 'error',
    tool: { name: 'alembic-gate', version: VERSION },
    base: { ref: options.base, sha: '', heads: [] },
    head: { sha: '', heads: [] },
    database: { engine: 'postgresql', version: '', provider: '' },
    config: { alembicConfig: options.alembicConfig, workingDirectory: options.workingDirectory, roundtrip: options.roundtrip },
    checks: [],
    revisions: [],
    drift: { operations: [], suggestedMigration: null },
    sql: [],
    notices: [],
    timings: { totalMs: 0 },
  };
}

async function gate(options: GateOptions, progress: ProgressSink, report: Report, resources: Resources, clock: Stopwatch, redirectNotices: Set<string>): Promise<void> {
  // --- where things are --------------------------------------------------------------------
  checkTempDir();
  const repo = await GitRepo.open(options.repoRoot);
  resources.checkoutRoot = repo.root;
  const located = locateProjectConfig(options.workingDirectory, options.alembicConfig);
  const inRepo = (abs: string): string => {
    const rel = relative(repo.root, abs);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new UserError(`the Alembic config ${abs} is outside the git repository ${repo.root}`);
    return rel.split(sep).join('/') || '.';
  };
  const layout: TreeLayout = {
    shape: located.shape,
    config: inRepo(located.config),
    ini: located.ini ? inRepo(located.ini) : null,
    toml: located.toml ? inRepo(located.toml) : null,
    cwd: inRepo(located.cwd),
    ...(options.flaskApp ? { flaskApp: options.flaskApp } : {}),
  };
  const iniRel = layout.config;
  // Repository-relative paths in the report: runner paths mean nothing to a reader.
  report.config.alembicConfig = iniRel;
  report.config.workingDirectory = relative(repo.root, resolve(options.workingDirectory)).split(sep).join('/') || '.';

  if (options.bootstrap) {
    parseBootstrap(options.bootstrap, options.workingDirectory); // a missing dump is a usage error, before anything starts
    if (options.roundtrip === 'all') throw new UserError('--bootstrap prepares the database for the base\'s migrations; --roundtrip all replays the whole history from an empty database instead. Use one or the other.');
  }
  const baseSha = await repo.resolveCommit(options.base);
  if (!baseSha) {
    throw new UserError(
      `the base ref "${options.base}" is not a commit in ${repo.root}. Fetch it first (git fetch origin ${options.base}; in GitHub Actions set fetch-depth: 0 on actions/checkout) or pass --base with a branch or sha that exists.`,
    );
  }
  report.base.sha = baseSha;
  let headRoot = repo.root;
  if (options.head) {
    const headSha = await repo.resolveCommit(options.head);
    if (!headSha) throw new UserError(`the head ref "${options.head}" is not a commit in ${repo.root}`);
    report.head = { ref: options.head, sha: headSha, heads: [] };
    headRoot = await exportTree(repo, headSha, 'head', resources);
  } else {
    report.head = { ref: (await repo.isDirty()) ? 'working tree (uncommitted changes included)' : 'HEAD', sha: (await repo.headSha()) ?? '', heads: [] };
  }

  // --- start the database and both workers at once ---------------------------------------------
  progress({ phase: 'provision', message: 'starting a throwaway PostgreSQL and the Python workers' });
  const connections: TreeConnections = { urlEnvVars: options.urlEnvVars, mode: options.foreignConnections, notices: redirectNotices, passEnv: options.passEnv ?? [], loadTimeoutMs: options.stepTimeoutMs };
  const head = new SourceTree('head', headRoot, layout, options.python, connections);
  resources.add(() => head.close());
  const dbPromise = clock.time('provisionMs', () =>
    provisionDatabase({ provider: options.provider, databaseUrl: options.databaseUrl, postgresVersion: options.postgresVersion }),
  );
  const headPromise = clock.time('headWorkerMs', () => head.start());
  const basePromise = clock.time('baseWorkerMs', async () => {
    const root = await exportTree(repo, baseSha, 'base', resources);
    if (!existsSync(join(root, iniRel))) return null; // the base has no Alembic setup yet
    const tree = new SourceTree('base', root, layout, options.python, connections);
    resources.add(() => tree.close());
    await tree.start();
    return tree;
  });
  const [dbResult, headResult, baseResult] = await Promise.allSettled([dbPromise, headPromise, basePromise]);
  if (dbResult.status === 'fulfilled') resources.add(() => dbResult.value.db.dispose());
  for (const r of [headResult, baseResult, dbResult]) if (r.status === 'rejected') throw r.reason;
  const { db, attempts } = (dbResult as PromiseFulfilledResult<Awaited<typeof dbPromise>>).value;
  const base = (baseResult as PromiseFulfilledResult<SourceTree | null>).value;
  for (const a of attempts) report.notices.push(`provider ${a.provider} was not used: ${a.error}`);
  try {
    for (const note of await db.useMigrationRole(options.migrationRole ?? 'unprivileged')) report.notices.push(note);
  } catch (err) {
    throw new UserError(`could not make the unprivileged role the project's migrations run as on the ${db.provider} server: ${(err as Error).message}; pass --migration-role superuser to run them as the server's own user`);
  }
  report.database = { engine: 'postgresql', version: db.serverVersion, provider: db.provider };
  const v = head.versions!;
  report.python = { command: options.python, version: v.python, alembic: v.alembic, sqlalchemy: v.sqlalchemy };

  // --- the revision graph ------------------------------------------------------------------------
  progress({ phase: 'graph', message: 'checking the revision graph' });
  const graphCheck = checkGraph(head);
  report.checks.push(graphCheck);
  if (!head.graph) {
    const why = 'the revision scripts do not load (see graph)';
    for (const id of ['heads', 'history', 'upgrade', 'roundtrip', 'drift', 'data', 'locks', 'compat'] as const) report.checks.push({ id, status: 'skip', summary: why, findings: [] });
    report.status = verdictOf(report.checks, options.failOn);
    return;
  }
  if (base && !base.graph) {
    const why = (base.rawGraph?.errors ?? []).map((e) => `${e.file ? `${base.relativePath(e.file)}${e.line ? `:${e.line}` : ''}: ` : ''}${baseConfigError(e.message)}`).join('; ');
    throw new UserError(
      `the base (${baseSha.slice(0, 12)}) revision scripts do not load, so the PR cannot be compared with it: ${why}. ` +
        `Fix the base branch first, or pass --base a commit whose ${iniRel} loads.`,
    );
  }
  const headGraph = head.graph;
  const baseGraph = base?.graph ?? null;
  report.base.heads = baseGraph?.heads ?? [];
  report.head.heads = headGraph.heads;
  const fresh = newRevisions(baseGraph, headGraph);
  const mergeBase = await repo.mergeBase(baseSha, report.head.sha || 'HEAD');
  const mergeBaseFiles = mergeBase ? await repo.listFiles(mergeBase) : null;
  report.checks.push(checkHeads(baseGraph, headGraph, fresh));
  report.checks.push(checkHistory(baseGraph, headGraph, { existedAtMergeBase: (f) => mergeBaseFiles?.has(f) ?? true }));

  const order = topologicalOrder(headGraph.nodes);
  report.revisions = order.map((rev) => {
    const n = headGraph.nodes.get(rev)!;
    return { revision: rev, downRevisions: n.downRevisions, message: n.message, file: n.file, isNew: fresh.has(rev), ...(n.branchLabels.length ? { branchLabels: n.branchLabels } : {}), ...(n.dependsOn.length ? { dependsOn: n.dependsOn } : {}), steps: {}, differences: [] };
  });
  const byRev = new Map(report.revisions.map((r) => [r.revision, r]));

  // --- base -> head on the throwaway database (production's path) --------------------------------
  // `--roundtrip all` replays the head's whole history from empty instead: the base's revisions
  // are the same code unless `history` says otherwise, and one walk covers every revision.
  // multidb: a twin for every ini section (the head's list; the base's if the head has none).
  let target = await gateTarget(db, head.sections ?? base?.sections ?? null);
  const upgradeFindings: Finding[] = [];
  let reachedHead = true;
  const replayAll = options.roundtrip === 'all';
  if (!replayAll && base && baseGraph && baseGraph.nodes.size > 0) {
    progress({ phase: 'base', message: `applying the base's ${plural(baseGraph.nodes.size, 'revision')} (${baseSha.slice(0, 12)})` });
    await base.useDatabase(target);
    // Revisions the base has and this branch does not (the base moved on, or the branch deleted
    // one) cannot be applied before the branch's own: start from what both share.
    const missing = [...baseGraph.nodes.keys()].filter((r) => !headGraph.nodes.has(r));
    const targets = missing.length ? headsWithin(baseGraph.nodes, new Set([...baseGraph.nodes.keys()].filter((r) => headGraph.nodes.has(r)))) : ['heads'];
    if (missing.length) {
      report.notices.push(`the base has ${missing.length} revision${missing.length === 1 ? '' : 's'} this branch does not (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}): base -> head starts from the revisions both have (see heads and history)`);
    }
    await clock.time('baseUpgradeMs', async () => {
      if (options.bootstrap) {
        const how = parseBootstrap(options.bootstrap, options.workingDirectory);
        report.notices.push(await bootstrapBase(how, options.bootstrap, db, target, base, options.stepTimeoutMs));
      }
      const rolesBefore = await serverRoles(db);
      try {
        let touchedRoles = false;
        for (const t of targets) touchedRoles = (await base.upgrade(t, options.stepTimeoutMs)).catalogWrite === true || touchedRoles;
        // Only when a step ran a role statement: on a shared server other runs' roles come and go.
        if (touchedRoles) db.adoptRoles(added(rolesBefore, await serverRoles(db)));
      } catch (err) {
        const f = describeFailure(err, base);
        if (f.kind === 'setup' || f.kind === 'config' || f.kind === 'foreign_database') {
          // env.py (or the app it needs) fails before any migration runs: no revision is at fault.
          throw new UserError(`the base's env.py fails before running any migration (${baseSha.slice(0, 12)}), so the PR cannot be tested on top of it: ${f.message}`);
        }
        const at = `${f.revision ? `revision ${f.revision}: ` : ''}${f.message}`;
        if (options.bootstrap) throw new UserError(`the base's own migrations (${baseSha.slice(0, 12)}) fail on the database --bootstrap ${options.bootstrap} made, so the PR cannot be tested on top of them: ${at}`);
        throw new UserError(
          `the base's own migrations (${baseSha.slice(0, 12)}) fail on an empty database, so the PR cannot be tested on top of them: ${at}\n` +
            'If the first revision expects tables that no revision creates (made by create_all() or by tooling older than Alembic), ' +
            "pass --bootstrap models (the base's models, stamped at its heads) or --bootstrap path/to/schema.sql (a pg_dump --schema-only of production); action input bootstrap.",
        );
      }
    });
  }
  // Its graph is read and its revisions applied; it stays for compat, which tries the base's
  // models on the upgraded schema. The connection it keeps between steps would keep the base
  // state from being copied.
  await base?.release();

  // --- data: a copy of the base state, taken before the walk touches it --------------------------
  const dataPlan = planData(options, replayAll, fresh.size, baseGraph?.nodes.size ?? 0);
  const rolesAtBase = new Set(db.ownRoles());
  let dataCopy: DatabaseTarget | null = null;
  if (!dataPlan.skip) {
    try {
      dataCopy = await createTarget(db, target, target);
    } catch (err) {
      dataPlan.skip = `the base state could not be copied: ${(err as Error).message}`;
    }
  }
  await head.useDatabase(target);

  const newOrder = order.filter((r) => fresh.has(r));
  let roundtripCheck: CheckResult;
  let observedLocks: ObservedLocks[] | null = null;
  // Drift and the SQL preview, done by the last lane at the head while the others finish.
  const ahead: { work: { target: DatabaseTarget; drift: DriftOutcome; sql: SqlPreview[]; notices: string[] } | null } = { work: null };
  if (options.roundtrip !== 'none') {
    const scope = replayAll ? order : newOrder;
    const applied = new Set(replayAll ? [] : [...headGraph.nodes.keys()].filter((r) => !fresh.has(r)));
    const lanes: LaneContext = {
      db,
      tree: head,
      spawnTree: async () => {
        const tree = new SourceTree('head', headRoot, layout, options.python, connections);
        await tree.start();
        return tree;
      },
      stepTimeoutMs: options.stepTimeoutMs,
      allowIrreversible: options.allowIrreversible,
      progress,
      clock,
      hold: (release) => resources.add(release),
      afterLastLane: async (tree, at) => {
        const drift = await clock.time('driftMs', () => tree.drift(options.stepTimeoutMs).then((raw) => ({ raw }), (error: unknown) => ({ error })));
        const notices: string[] = [];
        const sql = await clock.time('sqlMs', () => sqlPreview(tree, newOrder, byRev, options.stepTimeoutMs, notices));
        ahead.work = { target: at, drift, sql, notices };
      },
    };
    const walked = await clock.time('roundtripMs', () => walkInLanes(lanes, target, scope, headGraph.nodes, byRev, applied));
    observedLocks = walked.results.flatMap((r) => r.locks);
    if (walked.target !== target) {
      target = walked.target;
      await head.useDatabase(target);
    }
    upgradeFindings.push(...walked.results.flatMap((r) => r.upgradeFindings));
    for (const note of new Set(walked.results.flatMap((r) => r.notices))) report.notices.push(note);
    reachedHead = walked.walk.blocked.size === 0;
    roundtripCheck = buildRoundtripCheck(walked.results, scope.length, walked.walk.blocked.size, newOrder.length === 0 ? 'no new revisions to round-trip' : undefined);
  } else {
    progress({ phase: 'upgrade', message: `applying the head's ${newOrder.length} new revisions` });
    await clock.time('headUpgradeMs', async () => {
      const started = performance.now();
      try {
        await head.upgrade('heads', options.stepTimeoutMs);
      } catch (err) {
        reachedHead = false;
        const f = describeFailure(err, head);
        const rev = f.revision ? byRev.get(f.revision) : undefined;
        if (rev) rev.steps.upgrade = { status: f.kind === 'timeout' ? 'timeout' : 'failed', ms: Math.round(performance.now() - started), error: f.message };
        upgradeFindings.push(findingFrom(f, `${f.revision ? `upgrade of ${f.revision} fails` : 'upgrade to the head fails'}: ${f.message}`, { file: rev?.file }));
      }
    });
    roundtripCheck = { id: 'roundtrip', status: 'skip', summary: 'round trips are off (--roundtrip none)', findings: [] };
  }
  // env.py that cannot run is not a verdict on the migrations: nothing was tested, whatever
  // --fail-on says.
  const envBroken = upgradeFindings.some(isEnvFailure);
  report.checks.push({
    id: 'upgrade',
    status: envBroken ? 'error' : upgradeFindings.length ? 'fail' : 'pass',
    summary: envBroken
      ? "the head's env.py fails before running any migration, so no revision could be tested"
      : upgradeFindings.length
      ? `${plural(upgradeFindings.length, 'revision')} ${upgradeFindings.length === 1 ? 'fails' : 'fail'} to apply`
      : replayAll
        ? `all ${order.length} revisions apply from an empty database`
        : `base${baseGraph ? ` (${plural(baseGraph.nodes.size, 'revision')})` : ' (empty)'} -> head (${newOrder.length} new) applies`,
    findings: upgradeFindings,
  });
  report.checks.push(roundtripCheck);

  // --- drift: the head's models against the schema production will have --------------------------
  progress({ phase: 'drift', message: 'comparing the models with the migrated schema' });
  report.checks.push(
    await clock.time('driftMs', async () => {
      if (!reachedHead) return { id: 'drift' as const, status: 'skip' as const, summary: 'the database could not reach the head (see upgrade)', findings: [] };
      // The last lane's drift counts if the walk ended on its database.
      return runDrift(head, options, report, ahead.work?.target === target ? ahead.work.drift : undefined);
    }),
  );

  // --- compat: the deployed code (the base's models) against the schema after the PR ----------
  progress({ phase: 'drift', message: "trying the base's models on the upgraded schema" });
  const compat = await clock.time('compatMs', async (): Promise<CheckResult> => {
    if (!base) return { id: 'compat', status: 'skip', summary: 'no base to compare with', findings: [] };
    if (newOrder.length === 0) return { id: 'compat', status: 'skip', summary: 'no new revisions', findings: [] };
    if (!reachedHead) return { id: 'compat', status: 'skip', summary: 'the database could not reach the head (see upgrade)', findings: [] };
    try {
      await base.useDatabase(target);
      return judgeCompat(await base.compat(options.stepTimeoutMs));
    } catch (err) {
      const f = describeFailure(err, base);
      return { id: 'compat', status: 'skip', summary: `the base's env.py could not run on the upgraded schema: ${f.message.split('\n')[0]}`, findings: [] };
    } finally {
      await base.close(); // free its memory before the data check
    }
  });

  // --- SQL preview of the new revisions ----------------------------------------------------------
  progress({ phase: 'sql', message: 'rendering the SQL of the new revisions' });
  const early = ahead.work?.target === target ? ahead.work : null;
  if (early) {
    report.sql = early.sql;
    report.notices.push(...early.notices);
  } else {
    report.sql = await clock.time('sqlMs', () => sqlPreview(head, newOrder, byRev, options.stepTimeoutMs, report.notices));
  }

  // --- data: the new revisions on the copy, with rows ---------------------------------------------
  // Roles are cluster-wide: the ones the walk created would meet the copy's upgrades again.
  if (!dataPlan.skip && dataCopy) dataPlan.skip = await dropRolesSince(db, rolesAtBase, targetDatabases(target).map((d) => d.database));
  if (dataPlan.skip || !dataCopy) {
    report.checks.push({ id: 'data', status: 'skip', summary: dataPlan.skip ?? 'not run', findings: [] });
  } else {
    progress({ phase: 'data', message: 'running the new revisions on a copy of the base state with rows' });
    const copy = dataCopy;
    const result = await clock.time('dataMs', () =>
      dataWalk({
        tree: head,
        copy: { ...db.connection, database: copy.allowed.database },
        copyTarget: copy,
        revisions: newOrder,
        nodes: headGraph.nodes,
        byRev,
        stepTimeoutMs: options.stepTimeoutMs,
        seedRows: options.seedRows,
        ...(options.seedSql ? { seedSql: { path: resolve(options.workingDirectory, options.seedSql), name: options.seedSql } } : {}),
        seed: Number.parseInt(baseSha.slice(0, 6), 16),
        versionTable: head.versionTable,
      }),
    );
    clock.phases.seedMs = result.seedMs;
    report.checks.push(result.check);
    for (const note of result.notices) report.notices.push(note);
  }

  // --- locks: what the new revisions' statements locked and rewrote on existing tables ---------
  report.checks.push(locksCheck(observedLocks, newOrder, byRev, headRoot, head.versionTable?.name));
  report.checks.push(compat);
  report.status = verdictOf(report.checks, options.failOn);
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** Whether the data check runs, and why not. */
function planData(options: GateOptions, replayAll: boolean, newRevisions: number, baseRevisions: number): { skip?: string } {
  if (options.seedRows === 0 && !options.seedSql) return { skip: 'off (--seed-rows 0 and no --seed-sql)' };
  if (replayAll) return { skip: 'runs in pull-request mode (--roundtrip new or none): --roundtrip all has no base state to fill' };
  if (newRevisions === 0) return { skip: 'no new revisions' };
  if (baseRevisions === 0) return { skip: 'the base has no revisions, so no tables to fill' };
  return {};
}

function checkGraph(head: SourceTree): CheckResult {
  const g = head.rawGraph!;
  if (g.ok) return { id: 'graph', status: 'pass', summary: `${g.revisions.length} revision${g.revisions.length === 1 ? '' : 's'} load`, findings: [] };
  const findings: Finding[] = g.errors.map((e) => ({
    severity: 'error',
    message:
      e.kind === 'duplicate'
        ? e.message
        : `${head.relativePath(e.file) || 'a revision script'}${e.line ? ` line ${e.line}` : ''} does not load: ${e.message.split('\n').slice(-1)[0]}`,
    ...(e.file ? { file: head.relativePath(e.file) } : {}),
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

/** A drift comparison run ahead (the last lane's): its result or its error. */
type DriftOutcome = { raw: Awaited<ReturnType<SourceTree['drift']>> } | { error: unknown };

async function runDrift(head: SourceTree, options: GateOptions, report: Report, ahead?: DriftOutcome): Promise<CheckResult> {
  try {
    if (ahead && 'error' in ahead) throw ahead.error;
    const d = ahead ? ahead.raw : await head.drift(options.stepTimeoutMs);
    if (d.skipped) return { id: 'drift', status: 'skip', summary: d.skipped, findings: [] };
    const ops = d.operations ?? [];
    for (const note of d.notes ?? []) report.notices.push(note);
    report.drift = {
      operations: ops.map((o) => ({ kind: o.kind, message: o.message, ...(o.table ? { table: o.table } : {}), ...(o.column ? { column: o.column } : {}), ...(o.name ? { name: o.name } : {}) })),
      suggestedMigration: ops.length ? (d.upgrade ?? null) : null,
      suggestedDowngrade: ops.length ? (d.downgrade ?? null) : null,
    };
    if (!ops.length) return { id: 'drift', status: 'pass', summary: 'the models match the migrated schema', findings: [] };
    return {
      id: 'drift',
      status: 'fail',
      summary: 'models changed without a migration',
      findings: ops.map((o) => ({ severity: 'error', message: o.message, detail: 'Generate the missing migration with `alembic revision --autogenerate -m "..."` (the report carries the operations it will contain).' })),
    };
  } catch (err) {
    const f = describeFailure(err, head);
    return { id: 'drift', status: 'fail', summary: `the models could not be compared: ${f.message.split('\n')[0]}`, findings: [findingFrom(f, `comparing the models failed: ${f.message}`, {})] };
  }
}

async function sqlPreview(head: SourceTree, revs: string[], byRev: Map<string, RevisionReport>, timeoutMs: number, notices: string[]): Promise<SqlPreview[]> {
  if (revs.length === 0) return [];
  // A linear run of new revisions: one offline pass per direction, split at Alembic's
  // "-- Running upgrade a -> b" markers, instead of two env.py runs per revision.
  const linear = revs.every((rev, i) => {
    const downs = byRev.get(rev)!.downRevisions;
    return downs.length <= 1 && (i === 0 || downs[0] === revs[i - 1]);
  });
  if (linear && revs.length > 1) {
    const first = byRev.get(revs[0]!)!;
    const from = first.downRevisions[0] ?? null;
    const last = revs[revs.length - 1]!;
    try {
      const up = splitSql((await head.sql('upgrade', from, last, timeoutMs)).sql, 'upgrade');
      const down = splitSql((await head.sql('downgrade', last, from ?? 'base', timeoutMs)).sql, 'downgrade');
      return revs.map((rev) => ({ revision: rev, upgrade: up.get(rev) ?? null, downgrade: down.get(rev) ?? null }));
    } catch {
      // fall through to one revision at a time, which names the revision that fails
    }
  }
  const out: SqlPreview[] = [];
  let offlineFailed = false;
  for (const rev of revs) {
    const r = byRev.get(rev)!;
    if (r.downRevisions.length > 1) {
      out.push({ revision: rev, upgrade: null, downgrade: null, error: 'merge revision: no SQL of its own' });
      continue;
    }
    const from = r.downRevisions[0] ?? null;
    const entry: SqlPreview = { revision: rev, upgrade: null, downgrade: null };
    try {
      entry.upgrade = splitSql((await head.sql('upgrade', from, rev, timeoutMs)).sql, 'upgrade').get(rev) ?? null;
      entry.downgrade = splitSql((await head.sql('downgrade', rev, from ?? 'base', timeoutMs)).sql, 'downgrade').get(rev) ?? null;
    } catch (err) {
      const f = describeFailure(err, head);
      // An irreversible revision has no downgrade SQL; that is not env.py's offline mode failing.
      entry.error = f.kind === 'irreversible' ? `irreversible: ${f.message}` : f.message.split('\n')[0];
      if (f.kind !== 'irreversible') offlineFailed = true;
    }
    out.push(entry);
  }
  if (offlineFailed) notices.push("the SQL preview is incomplete: env.py's offline mode (alembic upgrade --sql) failed for some revisions; see the sql section");
  return out;
}

/** Splits `alembic upgrade --sql` output into the SQL of each revision. */
export function splitSql(sql: string, direction: 'upgrade' | 'downgrade'): Map<string, string> {
  const out = new Map<string, string>();
  const marker = new RegExp(`^-- Running ${direction} (\\S*) -> (\\S*)`);
  let current: string | null = null;
  let lines: string[] = [];
  const flush = () => {
    if (!current) return;
    const text = lines.join('\n').replace(/\n*(COMMIT;)?\s*$/, '').trim();
    // multidb: a revision runs once per database; its parts follow one another.
    const before = out.get(current);
    out.set(current, before ? `${before}\n\n${text}` : text);
  };
  for (const line of sql.split('\n')) {
    const m = marker.exec(line);
    if (m) {
      flush();
      // Alembic names "from -> to"; an upgrade's SQL belongs to "to", a downgrade's to "from".
      current = (direction === 'upgrade' ? m[2] : m[1])!.split(',')[0]!.trim() || null;
      lines = [];
      continue;
    }
    if (current) lines.push(line);
  }
  flush();
  return out;
}

/** Every string in the report with `root/x` turned into `x` (tracebacks, messages, SQL errors). */
function scrubPath(value: unknown, root: string): void {
  const fix = (text: string) => (text.includes(root) ? text.split(`${root}/`).join('').split(root).join('.') : text);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => (typeof item === 'string' ? (v[i] = fix(item)) : walk(item)));
    } else if (v && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (typeof item === 'string') (v as Record<string, unknown>)[k] = fix(item);
        else walk(item);
      }
    }
  };
  walk(value);
}

/** Alembic's text about the base's config, without its advice to run `alembic init` (the export's paths are scrubbed with the rest of the report). */
function baseConfigError(text: string): string {
  return text
    .replace(/\s*Please use the 'init' command to create a new scripts folder\.?/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\.$/, '');
}

function locksCheck(observed: ObservedLocks[] | null, newOrder: string[], byRev: Map<string, RevisionReport>, root: string, versionTable?: string): CheckResult {
  if (observed === null) return { id: 'locks', status: 'skip', summary: 'needs the round trips (--roundtrip none)', findings: [] };
  if (!locksObserved()) return { id: 'locks', status: 'skip', summary: 'off (ALEMBIC_GATE_LOCKS=off)', findings: [] };
  if (newOrder.length === 0) return { id: 'locks', status: 'skip', summary: 'no new revisions', findings: [] };
  const files = new Map<string, RevisionFile>();
  for (const rev of newOrder) {
    const file = byRev.get(rev)?.file;
    if (!file) continue;
    let text = '';
    try {
      text = readFileSync(join(root, file), 'utf8');
    } catch {
      // acknowledgements cannot be read: every finding counts
    }
    files.set(rev, { file, text });
  }
  return judgeLocks(observed, files, versionTable);
}

/** SQLSTATEs and socket errors that mean the connection or the server went away. */
const CONNECTION_LOST = /^(57P0[1-3]|08\d\d\d|ECONNRESET|ECONNREFUSED|EPIPE|ENOENT)$/;

function connectionLost(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && CONNECTION_LOST.test(e.code)) return true;
  return /Connection terminated|connection error and is not queryable|server closed the connection|terminating connection/i.test(e?.message ?? '');
}

/**
 * An error none of our parts turned into a message. A lost database connection is named as
 * such (a migration that ends other sessions, a server that stopped); anything else is a bug
 * of ours, said in one line (the stack only with ALEMBIC_GATE_DEBUG=1).
 */
function unexpectedError(err: unknown, activity: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (connectionLost(err)) {
    return (
      `the gate lost its connection to the throwaway database during "${activity}" (${message}): ` +
      'the server stopped, or a migration ended the gate\'s sessions (pg_terminate_backend on every session of the database); ' +
      'a migration that ends other sessions should leave its own application\'s alone, e.g. filter on application_name'
    );
  }
  return internalErrorText(err, activity);
}

async function exportTree(repo: GitRepo, sha: string, label: string, resources: Resources): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `alembic-gate-${label}-`));
  resources.exportRoots.push(dir);
  const watchdog = watchOver({ dirs: [dir] });
  resources.add(async () => {
    await rm(dir, { recursive: true, force: true });
    watchdog.remove();
  });
  await repo.exportTree(sha, dir);
  return dir;
}

/** Role names on the gate's server (roles are cluster-wide: the base's migrations may create some). */
async function serverRoles(db: ThrowawayDatabase): Promise<Set<string> | null> {
  return withClient(db.connection, async (c) => new Set((await c.query<{ r: string }>('SELECT rolname AS r FROM pg_roles')).rows.map((x) => x.r))).catch(() => null);
}

/**
 * Drops the roles the walk's migrations created (adopted since `before`), with what they own or
 * were granted in `database`, the walk's last database, about to be left, so the data check's
 * copy meets the server as the base state had it. Returns why the data check cannot run, or
 * undefined.
 */
async function dropRolesSince(db: ThrowawayDatabase, before: Set<string>, databases: string[]): Promise<string | undefined> {
  const created = db.ownRoles().filter((r) => !before.has(r)).sort();
  if (created.length === 0) return undefined;
  const id = (role: string) => `"${role.replace(/"/g, '""')}"`;
  try {
    // What they own in every database (multidb: one per section), then, from the last, the roles.
    for (const [i, database] of databases.entries()) {
      await withClient({ ...db.connection, database }, async (c) => {
        for (const role of created) if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount) await c.query(`DROP OWNED BY ${id(role)}`);
        if (i === databases.length - 1) for (const role of created) await c.query(`DROP ROLE IF EXISTS ${id(role)}`);
      });
    }
    return undefined;
  } catch (err) {
    return `the role(s) the round trips created (${created.join(', ')}) could not be removed before the data check: ${(err as Error).message}`;
  }
}
