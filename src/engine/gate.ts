// The gate: provision a throwaway database, apply base then head, round-trip the new
// revisions, compare the models, check the graph, and return the report. Everything it
// starts (database, workers, temp dirs) is released on every path out, signals included.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SourceTree, type DatabaseTarget, type TreeConnections, type TreeLayout } from '../alembic/tree.js';
import { iniUrl, locateProjectConfig } from '../alembic/project-config.js';
import { bootstrapBase, parseBootstrap } from './bootstrap.js';
import { WorkerError, type DriftResult } from '../alembic/worker-client.js';
import { registerCleanup } from '../util/cleanup.js';
import { watchOver } from '../util/sentinel.js';
import { checkTempDir } from '../util/scratch.js';
import { judgeLocks, type RevisionFile } from '../checks/locks.js';
import { judgeCompat } from '../checks/compat.js';
import { CHECKS, skipResult, type SkipContext } from '../checks/registry.js';
import { judgeGraph } from '../checks/graph.js';
import { judgeHeads } from '../checks/heads.js';
import { judgeHistory } from '../checks/history.js';
import { judgeUpgrade } from '../checks/upgrade.js';
import { judgeRoundtrip } from '../checks/roundtrip.js';
import { driftSection, judgeDrift } from '../checks/drift.js';
import { locksObserved, type FilledColumn, type ObservedLocks, type TracedSql } from './roundtrip.js';
import { judgeImplicitFill } from '../checks/data.js';
import { GitError, GitRepo } from '../git/git.js';
import { ProvisionError } from '../engines/engine.js';
import { newRevisions, topologicalOrder } from '../graph/graph.js';
import type { CheckResult, Finding, Report, RevisionReport, SqlPreview } from '../report/types.js';
import { verdictOf } from '../report/types.js';
import { internalErrorText, UserError } from '../util/errors.js';
import { VERSION } from '../version.js';
import type { GateOptions, ProgressSink } from './options.js';
import { added, headsWithin } from './roundtrip.js';
import { walkInLanes, type LaneContext } from './lanes.js';
import { describeFailure, findingFrom, isEnvFailure } from './steps.js';
import { Stopwatch } from './stopwatch.js';
import { targetDatabases } from './target.js';
import { chooseEngine, DEFAULT_ENGINE, engineOfUrl, unsupportedDialect, type EngineChoice, type EngineId, type ProviderAttempt, type ProvisionRequest, type ThrowawayServer } from '../engines/index.js';
import { dataWalk } from './data-walk.js';

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
    database: { engine: DEFAULT_ENGINE.id as EngineId, version: '', provider: '' },
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

  // --- the engine: --engine, else the project's own URL --------------------------------------------
  // The ini's URL, read plainly, picks the engine to start at once; the worker's reading (the
  // interpolated URL, a Flask app's config) corrects it once the head has loaded.
  const configuredUrl = iniUrl(located.ini);
  let choice: EngineChoice;
  try {
    choice = chooseEngine(options.engine ?? 'auto', configuredUrl);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  let engine = choice.engine;
  if (options.bootstrap && engine.capabilities.sqlBootstrap === false && !/^models$/i.test(options.bootstrap)) {
    throw new UserError(`--bootstrap ${options.bootstrap} loads a pg_dump into PostgreSQL; a ${engine.name} project can use --bootstrap models (the base's models, stamped at its heads)`);
  }

  // --- start the database and both workers at once ---------------------------------------------
  progress({ phase: 'provision', message: `starting a throwaway ${engine.name} and the Python workers` });
  const connections: TreeConnections = {
    urlEnvVars: options.urlEnvVars,
    mode: options.foreignConnections,
    notices: redirectNotices,
    passEnv: options.passEnv ?? [],
    loadTimeoutMs: options.stepTimeoutMs,
    // Only a Flask app without a URL in its ini needs building to tell the engine; the head's says.
    probeAppUrl: !choice.fixed && configuredUrl === null,
  };
  const head = new SourceTree('head', headRoot, layout, options.python, connections);
  resources.add(() => head.close());
  const provisionRequest: ProvisionRequest = {
    provider: options.provider,
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.postgresVersion ? { postgresVersion: options.postgresVersion } : {}),
    python: options.python,
    passEnv: options.passEnv ?? [],
  };
  const dbPromise = clock.time('provisionMs', () => engine.provision(provisionRequest));
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
  if (dbResult.status === 'fulfilled') resources.add(() => (dbResult.value as { server: ThrowawayServer }).server.dispose());
  for (const r of [headResult, baseResult]) if (r.status === 'rejected') throw r.reason;
  const base = (baseResult as PromiseFulfilledResult<SourceTree | null>).value;
  // The URL the head's configuration really gives (interpolated; a Flask app's) may name another engine.
  const projectUrl = head.projectUrl ?? configuredUrl;
  const unsupported = choice.fixed ? null : unsupportedDialect(projectUrl);
  if (unsupported) throw new UserError(unsupported);
  const loaded = choice.fixed ? null : engineOfUrl(projectUrl ?? '');
  let provisioned: { server: ThrowawayServer; attempts: ProviderAttempt[] };
  if (loaded && loaded !== engine) {
    if (dbResult.status === 'fulfilled') await (dbResult.value as typeof provisioned).server.dispose();
    engine = loaded;
    progress({ phase: 'provision', message: `starting a throwaway ${engine.name} (the project's URL names ${engine.name})` });
    provisioned = await clock.time('provisionMs', () => engine.provision(provisionRequest));
    resources.add(() => provisioned.server.dispose());
  } else {
    if (dbResult.status === 'rejected') throw dbResult.reason;
    provisioned = dbResult.value as typeof provisioned;
  }
  const { server: db, attempts } = provisioned;
  const engineInfo: SkipContext['engine'] = { name: engine.name, capabilities: engine.capabilities };
  for (const a of attempts) report.notices.push(`provider ${a.provider} was not used: ${a.error}`);
  try {
    for (const note of await db.useMigrationRole(options.migrationRole ?? 'unprivileged')) report.notices.push(note);
  } catch (err) {
    throw new UserError(`could not make the unprivileged role the project's migrations run as on the ${db.provider} server: ${(err as Error).message}; pass --migration-role superuser to run them as the server's own user`);
  }
  report.database = { engine: engine.id as EngineId, version: db.serverVersion, provider: db.provider };
  const v = head.versions!;
  report.python = { command: options.python, version: v.python, alembic: v.alembic, sqlalchemy: v.sqlalchemy };

  // --- the revision graph ------------------------------------------------------------------------
  progress({ phase: 'graph', message: 'checking the revision graph' });
  const graphCheck = judgeGraph(head.rawGraph!, (file) => head.relativePath(file));
  report.checks.push(graphCheck);
  if (!head.graph) {
    // Every other check needs the graph: each one's skip rule says so.
    const ctx = skipContextOf(options, engineInfo, { graphLoads: false, hasBase: base !== null, newRevisions: 0, baseRevisions: 0, headRevisions: 0, reachedHead: false });
    for (const def of CHECKS) {
      const skip = def.id === 'graph' ? null : skipResult(def.id, ctx);
      if (skip) report.checks.push(skip);
    }
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
  // What the checks' skip rules look at (reachedHead is the walk's, below).
  const ctx = skipContextOf(options, engineInfo, { graphLoads: true, hasBase: base !== null, newRevisions: fresh.size, baseRevisions: baseGraph?.nodes.size ?? 0, headRevisions: headGraph.nodes.size, reachedHead: true });
  const mergeBase = await repo.mergeBase(baseSha, report.head.sha || 'HEAD');
  const mergeBaseFiles = mergeBase ? await repo.listFiles(mergeBase) : null;
  report.checks.push(judgeHeads(baseGraph, headGraph, fresh));
  report.checks.push(judgeHistory(baseGraph, headGraph, { existedAtMergeBase: (f) => mergeBaseFiles?.has(f) ?? true }));

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
  let target = await db.gateTarget(head.sections ?? base?.sections ?? null);
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
      const rolesBefore = await db.roles();
      try {
        let touchedRoles = false;
        for (const t of targets) touchedRoles = (await base.upgrade(t, options.stepTimeoutMs)).catalogWrite === true || touchedRoles;
        // Only when a step ran a role statement: on a shared server other runs' roles come and go.
        if (touchedRoles) db.adoptRoles(added(rolesBefore, await db.roles()));
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
  const dataPlan: { skip?: string } = { skip: skipResult('data', ctx)?.summary };
  const rolesAtBase = new Set(db.ownRoles());
  let dataCopy: DatabaseTarget | null = null;
  // Engines that fill rather than fail judge from the round trips' schemas: no copy to take.
  const fromSchema = !engine.capabilities.rowFingerprints && engine.capabilities.implicitFill;
  if (!dataPlan.skip && !fromSchema) {
    try {
      dataCopy = await db.createTarget(target, target);
    } catch (err) {
      dataPlan.skip = `the base state could not be copied: ${(err as Error).message}`;
    }
  }
  await head.useDatabase(target);

  const newOrder = order.filter((r) => fresh.has(r));
  let roundtripCheck: CheckResult;
  let observedLocks: ObservedLocks[] | null = null;
  let traced: TracedSql[] = [];
  let filled: FilledColumn[] = [];
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
    traced = walked.results.flatMap((r) => r.traced);
    filled = walked.results.flatMap((r) => r.filled);
    if (walked.target !== target) {
      target = walked.target;
      await head.useDatabase(target);
    }
    upgradeFindings.push(...walked.results.flatMap((r) => r.upgradeFindings));
    for (const note of new Set(walked.results.flatMap((r) => r.notices))) report.notices.push(note);
    reachedHead = walked.walk.blocked.size === 0;
    roundtripCheck = skipResult('roundtrip', ctx) ?? judgeRoundtrip(walked.results, scope.length, walked.walk.blocked.size);
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
    roundtripCheck = skipResult('roundtrip', ctx) ?? judgeRoundtrip([], 0, 0); // skipped: --roundtrip none
  }
  // env.py that cannot run is not a verdict on the migrations: nothing was tested, whatever
  // --fail-on says.
  const envBroken = upgradeFindings.some(isEnvFailure);
  report.checks.push(
    judgeUpgrade({ findings: upgradeFindings, envBroken, replayAll, headRevisions: order.length, baseRevisions: baseGraph ? baseGraph.nodes.size : null, newRevisions: newOrder.length }),
  );
  report.checks.push(roundtripCheck);

  // --- drift: the head's models against the schema production will have --------------------------
  progress({ phase: 'drift', message: 'comparing the models with the migrated schema' });
  report.checks.push(
    await clock.time('driftMs', async () => {
      const skip = skipResult('drift', { ...ctx, reachedHead });
      if (skip) return skip;
      // The last lane's drift counts if the walk ended on its database.
      return runDrift(head, options, report, ahead.work?.target === target ? ahead.work.drift : undefined);
    }),
  );

  // --- compat: the deployed code (the base's models) against the schema after the PR ----------
  progress({ phase: 'drift', message: "trying the base's models on the upgraded schema" });
  const compat = await clock.time('compatMs', async (): Promise<CheckResult> => {
    const skip = skipResult('compat', { ...ctx, reachedHead });
    if (skip || !base) return skip!; // no base: skipped (hasBase)
    try {
      await base.useDatabase(target);
      return judgeCompat(await base.compat(options.stepTimeoutMs));
    } catch (err) {
      const f = describeFailure(err, base);
      return judgeCompat({ failed: f.message.split('\n')[0] });
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
  if (traced.length) report.sql = withTracedSql(report.sql, traced, engine.name, report.notices);

  // --- data: the new revisions on the copy, with rows ---------------------------------------------
  // Roles are cluster-wide: the ones the walk created would meet the copy's upgrades again.
  if (!dataPlan.skip && dataCopy) dataPlan.skip = await dropRolesSince(db, rolesAtBase, targetDatabases(target).map((d) => d.database));
  if (!dataPlan.skip && fromSchema) {
    report.checks.push(judgeImplicitFill(filled, newOrder.length, engine.name));
  } else if (dataPlan.skip || !dataCopy) {
    report.checks.push({ id: 'data', status: 'skip', summary: dataPlan.skip ?? 'not run', findings: [] });
  } else {
    progress({ phase: 'data', message: 'running the new revisions on a copy of the base state with rows' });
    const copy = dataCopy;
    const result = await clock.time('dataMs', () =>
      dataWalk({
        tree: head,
        open: (database) => db.rows!.open(database),
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
  report.checks.push(skipResult('locks', ctx) ?? judgeLocks(observedLocks ?? [], revisionFiles(newOrder, byRev, headRoot), head.versionTable?.name));
  report.checks.push(compat);
  report.status = verdictOf(report.checks, options.failOn);
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** What the checks' skip rules look at (src/checks/definition.ts): the engine, the options and `known`. */
function skipContextOf(options: GateOptions, engine: SkipContext['engine'], known: Pick<SkipContext, 'graphLoads' | 'hasBase' | 'newRevisions' | 'baseRevisions' | 'headRevisions' | 'reachedHead'>): SkipContext {
  return { engine, roundtrip: options.roundtrip, seedRows: options.seedRows, seedSql: !!options.seedSql, locksObserved: locksObserved(), ...known };
}

/** A drift comparison run ahead (the last lane's): its result or its error. */
type DriftOutcome = { raw: Awaited<ReturnType<SourceTree['drift']>> } | { error: unknown };

async function runDrift(head: SourceTree, options: GateOptions, report: Report, ahead?: DriftOutcome): Promise<CheckResult> {
  let raw: DriftResult;
  try {
    if (ahead && 'error' in ahead) throw ahead.error;
    raw = ahead ? ahead.raw : await head.drift(options.stepTimeoutMs);
  } catch (err) {
    return judgeDrift({ failure: describeFailure(err, head) });
  }
  if (!raw.skipped) {
    for (const note of raw.notes ?? []) report.notices.push(note);
    report.drift = driftSection(raw);
  }
  return judgeDrift({ raw });
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

/**
 * The SQL preview with what the round trip ran in place of an offline render that failed
 * (batch mode on SQLite reflects the table it copies, so `--sql` cannot render it): the
 * statements of each revision's first upgrade and downgrade, reads left out.
 */
export function withTracedSql(sql: SqlPreview[], traced: TracedSql[], engineName: string, notices: string[]): SqlPreview[] {
  const ran = new Map(traced.map((t) => [t.revision, t]));
  const filled: string[] = [];
  const out = sql.map((entry) => {
    const t = ran.get(entry.revision);
    if (!entry.error || entry.error.startsWith('irreversible') || entry.error.startsWith('merge revision') || !t?.upgrade) return entry;
    filled.push(entry.revision);
    const { error: _offline, ...rest } = entry;
    return { ...rest, upgrade: t.upgrade, downgrade: t.downgrade ?? entry.downgrade };
  });
  if (!filled.length) return sql;
  const incomplete = notices.findIndex((n) => n.startsWith('the SQL preview is incomplete'));
  if (incomplete >= 0 && out.every((e) => !e.error || e.error.startsWith('irreversible') || e.error.startsWith('merge revision'))) notices.splice(incomplete, 1);
  notices.push(
    `the SQL preview of ${filled.join(', ')} shows the statements the round trip ran on ${engineName}: Alembic renders batch mode's table copy only against a live database, not with --sql`,
  );
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

/** The new revisions' files and their text, for the locks check's acknowledgements. */
function revisionFiles(newOrder: string[], byRev: Map<string, RevisionReport>, root: string): Map<string, RevisionFile> {
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
  return files;
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

/**
 * Drops the roles the walk's migrations created (adopted since `before`), with what they own or
 * were granted in `database`, the walk's last database, about to be left, so the data check's
 * copy meets the server as the base state had it. Returns why the data check cannot run, or
 * undefined.
 */
async function dropRolesSince(db: ThrowawayServer, before: Set<string>, databases: string[]): Promise<string | undefined> {
  const created = db.ownRoles().filter((r) => !before.has(r)).sort();
  if (created.length === 0) return undefined;
  try {
    await db.dropRoles(created, databases);
    return undefined;
  } catch (err) {
    return `the role(s) the round trips created (${created.join(', ')}) could not be removed before the data check: ${(err as Error).message}`;
  }
}
