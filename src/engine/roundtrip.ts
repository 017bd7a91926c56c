// Round trips: for each revision in graph order, snapshot S0, upgrade -> S1, downgrade -> must
// equal S0, upgrade again -> must equal S1. A failed step does not stop the run: the database
// is checked against the state it should be in and rebuilt from empty when it is not.
import type { SourceTree, DatabaseTarget } from '../alembic/tree.js';
import type { LockEvent, LockObservation, StepResult } from '../alembic/worker-client.js';
import type { EngineSession, ThrowawayServer } from '../engines/engine.js';
import { downTarget, type RevisionNode } from '../graph/graph.js';
import type { Finding, RevisionReport } from '../report/types.js';
import { describeDifference, diffSnapshots } from '../snapshot/index.js';
import type { ReadOptions } from '../engines/engine.js';
import { mergeSections, type SchemaState } from '../snapshot/state.js';
import type { ProgressSink } from './options.js';
import { describeFailure, failedStep, findingFrom, type StepFailure } from './steps.js';
import type { Stopwatch } from './stopwatch.js';
import { targetDatabases } from './target.js';

export interface RoundTripResult {
  upgradeFindings: Finding[];
  roundtripFindings: Finding[];
  /** Revisions round-tripped (all three steps attempted). */
  tripped: number;
  /** The database the run ended on: a rebuilt one if a failed step forced a rebuild. */
  target: DatabaseTarget;
  /** Said once in the report (see gate.ts). */
  notices: string[];
  /** Revisions whose downgrade is absent or refuses on purpose, allowed by --allow-irreversible. */
  irreversible: string[];
  /** What the new revisions' upgrades and downgrades locked and rewrote (the locks check). */
  locks: ObservedLocks[];
  /** The statements each new revision's first upgrade and downgrade ran (engines with capabilities.tracedSql). */
  traced: TracedSql[];
  /** Columns new revisions add NOT NULL without a default to tables that were there (capabilities.implicitFill). */
  filled: FilledColumn[];
}

/** A column an upgrade adds NOT NULL, with no default, to a table that existed before it. */
export interface FilledColumn {
  revision: string;
  file: string;
  table: string;
  column: string;
  type: string;
}

/** What a revision's steps ran, for the SQL preview where Alembic renders none offline. */
export interface TracedSql {
  revision: string;
  upgrade?: string;
  downgrade?: string;
}

/** What a walk knows about the database, shared by runs that continue one another. */
export interface WalkState {
  /** Revisions in the database (grows as revisions apply). */
  applied: Set<string>;
  /** Revisions that could not be applied; their descendants are skipped. */
  blocked: Set<string>;
}

/** ALEMBIC_GATE_LOCKS=off leaves the locks check out (for measuring what it costs). */
export const locksObserved = (): boolean => process.env.ALEMBIC_GATE_LOCKS !== 'off';

/** One step's lock observations (see LockEvent). */
export interface ObservedLocks {
  revision: string;
  phase: 'upgrade' | 'downgrade';
  events: LockEvent[];
}

export class RoundTripper {
  /**
   * The gate's own connection and tracker on each database of the target: one, or for multidb
   * one per ini section (`section` set), the first section's first.
   */
  private parts: { section?: string; session: EngineSession }[] = [];
  /** The first database's session (roles, which are cluster-wide, are read there). */
  private get first(): EngineSession | null {
    return this.parts[0]?.session ?? null;
  }
  /** Incremental snapshots (snapshot/tracker.ts); off after they once disagreed with a whole read. */
  private incremental = true;
  /**
   * A step of the revision being walked ran a role statement (or another catalog write): only
   * then are role changes its doing. Roles are cluster-wide; on a shared server another run's
   * come and go at any time.
   */
  private touchedRoles = false;

  constructor(
    private readonly db: ThrowawayServer,
    private readonly tree: SourceTree,
    private readonly timeoutMs: number,
    private readonly progress: ProgressSink,
    private readonly clock: Stopwatch,
    private readonly allowIrreversible = false,
  ) {}

  private async connect(target: DatabaseTarget): Promise<void> {
    await this.close();
    for (const { section, database } of targetDatabases(target)) {
      this.parts.push({ ...(section ? { section } : {}), session: await this.db.session(database, { incremental: this.incremental }) });
    }
  }

  /** The tables of the database now (not the version table): what a revision's locks are judged on. */
  private async existingTables(only?: LockObservation): Promise<LockObservation> {
    const vt = this.tree.versionTable ?? { schema: null, name: 'alembic_version' };
    // multidb: every section's tables, named after the section ("audit.events").
    const tables: LockObservation['tables'] = [];
    for (const { section, session } of this.parts) {
      for (const { database, ...t } of await session.tables(vt)) tables.push(section ? { ...t, database, name: `${section}.${t.name}` } : t);
    }
    const key = (t: LockObservation['tables'][number]) => `${t.database ?? ''}:${t.oid}`;
    const wanted = only ? new Set(only.tables.map(key)) : null;
    return { tables: wanted ? tables.filter((t) => wanted.has(key(t))) : tables, versionTable: vt.name };
  }

  private snapshot(options?: ReadOptions): Promise<SchemaState> {
    return this.clock.time('snapshotMs', async () => {
      const vt = this.tree.versionTable;
      const own = (state: SchemaState) => (vt && vt.name !== 'alembic_version' ? state.withoutTable(vt.schema, vt.name) : state);
      const states: { section: string; state: SchemaState }[] = [];
      for (const { section, session } of this.parts) {
        const state = own(await session.read(options));
        if (!section) return state;
        states.push({ section, state });
      }
      return mergeSections(states, this.db.defaultSchema);
    });
  }

  async close(): Promise<void> {
    const parts = this.parts;
    this.parts = [];
    for (const { session } of parts) await session.close();
  }

  /**
   * Round-trips `revisions` in order, starting from the database `target` in state `walk`.
   * The walk is checked against a whole snapshot at its end; if the incremental snapshots
   * missed a change, the walk is done again with whole snapshots from the same start.
   */
  async run(target: DatabaseTarget, revisions: string[], nodes: Map<string, RevisionNode>, byRev: Map<string, RevisionReport>, walk: WalkState, tick: () => number = () => 0, total = revisions.length): Promise<RoundTripResult> {
    const start = { applied: new Set(walk.applied), blocked: new Set(walk.blocked) };
    const result = await this.walk(target, revisions, nodes, byRev, walk, tick, total);
    if (result) return result;

    // Restore what the walk changed, then walk again on a database rebuilt to the start.
    this.incremental = false;
    walk.applied.clear();
    walk.blocked.clear();
    for (const r of start.applied) walk.applied.add(r);
    for (const r of start.blocked) walk.blocked.add(r);
    for (const rev of revisions) {
      const r = byRev.get(rev);
      if (r) Object.assign(r, { steps: {}, differences: [] });
    }
    const again = await databaseWith(this.db, this.tree, nodes, start.applied, this.timeoutMs, target);
    const redone = (await this.walk(again, revisions, nodes, byRev, walk, tick, total))!;
    redone.notices.push(
      'a migration changed the schema in a way DDL event triggers do not report (direct writes to the system catalogs?), ' +
        'so the round trips were redone with whole snapshots after each step; the verdict is unaffected, only the time',
    );
    return redone;
  }

  /** One walk; null when its incremental snapshots turned out to disagree with a whole read. */
  private async walk(target: DatabaseTarget, revisions: string[], nodes: Map<string, RevisionNode>, byRev: Map<string, RevisionReport>, walk: WalkState, tick: () => number, total: number): Promise<RoundTripResult | null> {
    const { applied, blocked } = walk;
    const upgradeFindings: Finding[] = [];
    const roundtripFindings: Finding[] = [];
    const irreversible: string[] = [];
    const notices: string[] = [];
    const locks: ObservedLocks[] = [];
    const traced: TracedSql[] = [];
    const filled: FilledColumn[] = [];
    let tripped = 0;
    let current = target;
    await this.connect(current);
    // What env.py sets up itself before any migration (CREATE SCHEMA for its version table, the
    // version table) is not the first revision's doing: S0 is taken after it ran.
    if (revisions.length) await this.tree.setup(this.timeoutMs);
    let state = revisions.length ? await this.snapshot() : null;

    let rolesBefore: Set<string> | null = null; // at the start of the revision being walked
    // `read`: the whole snapshot taken right after the failure, if the caller took one already.
    const recover = async (expected: SchemaState, why: StepFailure, read?: SchemaState | null): Promise<SchemaState> => {
      // A killed step can leave a backend running with locks held: end it first.
      if (why.kind === 'timeout') await this.terminateOthers();
      // Snapshots leave alembic_version out, so the schema alone can match while the database
      // is stamped elsewhere (a failed re-upgrade rolls back to the parent's stamp): check both.
      // A failed step may have committed part of its work outside a transaction: read it all.
      const now = read !== undefined ? read : await this.snapshot({ whole: true }).catch(() => null);
      const stamped = await this.versions();
      const want = headsWithin(nodes, applied);
      if (now && expected.equals(now) && stamped !== null && stamped.join() === want.join()) return now;
      // Unknown state: build a fresh database up to what should be applied, from empty. Roles
      // this revision created outlive the database it leaves: drop them, or the rebuild's
      // upgrade meets them again.
      if (this.touchedRoles) {
        const own = new Set(this.db.ownRoles());
        await this.dropRoles(added(rolesBefore, await this.roles()).filter((r) => own.has(r)));
      }
      current = await databaseWith(this.db, this.tree, nodes, applied, this.timeoutMs, current);
      await this.connect(current);
      return this.snapshot();
    };

    for (const rev of revisions) {
      const node = nodes.get(rev)!;
      const r = byRev.get(rev)!;
      const label = `${rev}${node.message ? ` ${node.message}` : ''}`;
      const blocker = [...node.downRevisions, ...node.dependsOn].find((p) => blocked.has(p));
      if (blocker) {
        blocked.add(rev);
        r.steps.upgrade = { status: 'skipped', ms: 0, error: `not applied: it builds on ${blocker}, which failed` };
        continue;
      }
      this.progress({ phase: 'roundtrip', message: `round-trip ${label}`, index: tick(), total });
      const s0 = state!;

      // 1. upgrade (roles are cluster-wide, outside any snapshot: compared on their own)
      this.touchedRoles = false;
      const roles0 = await this.roles();
      rolesBefore = roles0;
      // New revisions: every statement's locks on the tables that were there before it.
      const observe = r.isNew && locksObserved() && this.db.engine.capabilities.lockIntrospection ? await this.existingTables() : undefined;
      const trace = r.isNew && this.db.engine.capabilities.tracedSql;
      const ran: TracedSql = { revision: rev };
      if (trace) traced.push(ran);
      const observed = (phase: 'upgrade' | 'downgrade') => (res: StepResult): StepResult => {
        if (observe && res.locks) locks.push({ revision: rev, phase, events: res.locks });
        if (res.statements) ran[phase] = res.statements.join('\n');
        return res;
      };
      let failure = await this.step(r, 'upgrade', () => this.tree.upgrade(rev, this.timeoutMs, observe, trace).then(observed('upgrade')), rev);
      if (this.touchedRoles) this.db.adoptRoles(added(roles0, await this.roles()));
      if (failure) {
        blocked.add(rev);
        // Where DDL does not roll back, what ran before the failing statement stays: say what.
        // One whole read serves both this and the recovery below.
        const now = this.db.engine.capabilities.transactionalDdl || failure.kind === 'timeout' ? undefined : await this.snapshot({ whole: true }).catch(() => null);
        const left = now ? this.leftBehind(s0, now) : null;
        const fails = left ? `fails and leaves ${left} behind (${this.db.engine.name} does not roll back DDL)` : 'fails';
        upgradeFindings.push(findingFrom(failure, `upgrade of ${rev} ${fails}: ${failure.message}`, { revision: rev, file: node.file }));
        state = await recover(s0, failure, now);
        continue;
      }
      applied.add(rev);
      const s1 = await this.snapshot();
      if (r.isNew && this.db.engine.capabilities.implicitFill) filled.push(...filledColumns(s0, s1, rev, node.file, this.db.defaultSchema));

      // 2. downgrade, must give back S0
      // The same tables as the upgrade's, as the upgrade left them (a rewrite there is not the downgrade's).
      const observeDown = observe ? await this.existingTables(observe) : undefined;
      failure = await this.step(r, 'downgrade', () => this.tree.downgrade(downTarget(node), this.timeoutMs, observeDown, trace).then(observed('downgrade')), rev);
      if (failure?.kind === 'irreversible') {
        // Nothing ran: the database is still at this revision, as the walk needs it.
        state = await recover(s1, failure);
        if (this.allowIrreversible) {
          irreversible.push(rev);
          r.steps.downgrade = { status: 'skipped', ms: r.steps.downgrade?.ms ?? 0, error: `irreversible: ${failure.message}` };
          notices.push(`${rev} is irreversible (${failure.message}); its round trip was skipped (--allow-irreversible)`);
        } else {
          roundtripFindings.push(
            findingFrom(failure, `${rev} is irreversible: ${failure.message}. If the project never downgrades, pass --allow-irreversible (action input allow-irreversible)`, { revision: rev, file: node.file }),
          );
          tripped++;
        }
        continue;
      }
      if (failure) {
        roundtripFindings.push(findingFrom(failure, `downgrade of ${rev} fails: ${failure.message}`, { revision: rev, file: node.file }));
        state = await recover(s1, failure);
        tripped++;
        continue;
      }
      const s0b = await this.snapshot();
      for (const d of s0.equals(s0b) ? [] : diffSnapshots(s0.snapshot(), s0b.snapshot(), { defaultSchema: this.db.defaultSchema })) {
        const line = describeDifference(d, { phase: 'downgrade', revision: rev });
        r.differences.push(line);
        roundtripFindings.push({ severity: 'error', revision: rev, file: node.file, message: line });
      }
      const roles0b = this.touchedRoles ? await this.roles() : roles0;
      for (const role of added(roles0, roles0b)) {
        const line = `downgrade of ${rev} leaves role ${role}, which its upgrade created: drop it in downgrade() (DROP ROLE ${role})`;
        r.differences.push(line);
        roundtripFindings.push({ severity: 'error', revision: rev, file: node.file, message: line });
      }
      for (const role of added(roles0b, roles0)) {
        const line = `downgrade of ${rev} drops role ${role}, which existed before its upgrade`;
        r.differences.push(line);
        roundtripFindings.push({ severity: 'error', revision: rev, file: node.file, message: line });
      }

      // 3. upgrade again, must give back S1
      failure = await this.step(r, 'reupgrade', () => this.tree.upgrade(rev, this.timeoutMs), rev);
      if (this.touchedRoles) this.db.adoptRoles(added(roles0b, await this.roles()));
      if (failure) {
        roundtripFindings.push(findingFrom(failure, `re-upgrade of ${rev} after its downgrade fails: ${failure.message}`, { revision: rev, file: node.file }));
        state = await recover(s1, failure);
        tripped++;
        continue;
      }
      const s1b = await this.snapshot();
      for (const d of s1.equals(s1b) ? [] : diffSnapshots(s1.snapshot(), s1b.snapshot(), { defaultSchema: this.db.defaultSchema })) {
        const line = describeDifference(d, { phase: 'reupgrade', revision: rev });
        r.differences.push(line);
        roundtripFindings.push({ severity: 'error', revision: rev, file: node.file, message: line });
      }
      state = s1b;
      tripped++;
    }
    let faithful = true;
    for (const { session } of this.parts) if (faithful && session.incremental) faithful = await this.clock.time('snapshotMs', () => session.verify());
    await this.close();
    if (!faithful) return null;

    return { upgradeFindings, roundtripFindings, tripped, target: current, notices, irreversible, locks, traced, filled };
  }

  /**
   * Runs one Alembic step, records its timing on the revision, returns the failure if any.
   * A step that reports success must also have persisted: the version table, read on the
   * gate's own connection, has to say what the step promised about `rev`.
   */
  private async step(r: RevisionReport, name: 'upgrade' | 'downgrade' | 'reupgrade', fn: () => Promise<StepResult>, rev: string): Promise<StepFailure | null> {
    const t = performance.now();
    let failure: StepFailure | null;
    try {
      const done = await this.clock.time('stepsMs', fn);
      if (done.catalogWrite) for (const { session } of this.parts) session.markStale();
      if (done.catalogWrite) this.touchedRoles = true;
      failure = await this.unpersisted(name, rev);
    } catch (err) {
      failure = describeFailure(err, this.tree);
    }
    r.steps[name] = failure ? failedStep(failure, performance.now() - t) : { status: 'ok', ms: Math.round(performance.now() - t) };
    return failure;
  }

  private async unpersisted(name: 'upgrade' | 'downgrade' | 'reupgrade', rev: string): Promise<StepFailure | null> {
    const stamped = await this.versions();
    if (stamped === null) return null; // a version table the gate cannot read: nothing to hold the step to
    const up = name !== 'downgrade';
    if (stamped.includes(rev) === up) return null;
    const table = this.tree.versionTable ? `${this.tree.versionTable.schema ? `${this.tree.versionTable.schema}.` : ''}${this.tree.versionTable.name}` : 'alembic_version';
    const says = stamped.length ? stamped.join(', ') : 'nothing';
    return {
      kind: 'not_persisted',
      message:
        `the ${name === 'reupgrade' ? 're-upgrade' : name} ${up ? 'to' : 'from'} ${rev} reported success, but afterwards ${table} says ${says}: nothing it did was committed. ` +
        'env.py never commits: under SQLAlchemy 2.0 a statement executed on the connection before context.configure() (SET search_path, a lock, a check) begins a transaction that ' +
        "context.begin_transaction() joins and never commits, so production would roll the migration back too. Call connection.commit() after that statement, or run it inside 'with context.begin_transaction():'.",
    };
  }

  /**
   * What a failed step left in the database that `before` did not have, as a phrase ("table
   * tags and column notes.tag_id"), or null: nothing.
   */
  private leftBehind(before: SchemaState, now: SchemaState): string | null {
    if (before.equals(now)) return null;
    const diffs = diffSnapshots(before.snapshot(), now.snapshot(), { defaultSchema: this.db.defaultSchema });
    const named = diffs.map((d) => {
      const what = d.objectType === 'column' ? `column ${d.table ? `${d.table}.` : ''}${d.name}` : `${d.objectType} ${d.name}${d.table && d.objectType !== 'table' ? ` on ${d.table}` : ''}`;
      return d.kind === 'extra' ? what : d.kind === 'missing' ? `${what} dropped` : `${what} changed (${d.field ?? 'definition'})`;
    });
    if (!named.length) return null;
    const shown = named.length > 5 ? [...named.slice(0, 5), `${named.length - 5} more`] : named;
    return shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
  }

  /** Drops `roles` with what they own or were granted in the current database (about to be left). */
  private async dropRoles(roles: string[]): Promise<void> {
    for (const role of roles) {
      for (const { session } of this.parts.slice(1)) await session.dropRole(role, false);
      await this.first!.dropRole(role, true);
    }
  }

  /** Role names on the server (the gate's own connection). */
  private async roles(): Promise<Set<string> | null> {
    return this.first!.roles();
  }

  /** The revisions the version table holds, sorted; null when it cannot be read. */
  private async versions(): Promise<string[] | null> {
    const [main, ...others] = await Promise.all(this.parts.map((p) => p.session.versions(this.tree.versionTable)));
    // multidb: every section's version table must say the same, or nothing is held against it.
    if (!main) return null;
    return others.every((o) => o !== null && o.join() === main.join()) ? main : null;
  }

  private async terminateOthers(): Promise<void> {
    for (const { session } of this.parts) await session.endOtherSessions();
  }
}

/** The columns `after` has NOT NULL without a default (nor identity, nor generated) on tables `before` had. */
function filledColumns(before: SchemaState, after: SchemaState, revision: string, file: string, defaultSchema: string): FilledColumn[] {
  const b = before.snapshot();
  const a = after.snapshot();
  const tables = new Set(b.tables.map((t) => `${t.schema}.${t.name}`));
  const had = new Set(b.columns.map((c) => `${c.schema}.${c.table}.${c.name}`));
  return a.columns
    .filter((c) => tables.has(`${c.schema}.${c.table}`) && !had.has(`${c.schema}.${c.table}.${c.name}`) && c.notNull && c.default === null && !c.identity && !c.generated)
    .map((c) => ({ revision, file, table: c.schema === defaultSchema ? c.table : `${c.schema}.${c.table}`, column: c.name, type: c.type }));
}

/** Roles in `after` that `before` lacks, sorted; none when either could not be read. */
export const added = (before: Set<string> | null, after: Set<string> | null): string[] => (before && after ? [...after].filter((x) => !before.has(x)).sort() : []);

/**
 * A new database holding exactly the `applied` revisions, built from empty by upgrading to
 * the heads of that sub-graph, with `tree` pointed at it.
 */
export async function databaseWith(db: ThrowawayServer, tree: SourceTree, nodes: Map<string, RevisionNode>, applied: Set<string>, timeoutMs: number, like: DatabaseTarget): Promise<DatabaseTarget> {
  // multidb: a database for each ini section, as `like` has.
  const target = await db.createTarget(like);
  await tree.useDatabase(target);
  const heads = headsWithin(nodes, applied);
  if (heads.length === 0) await tree.setup(timeoutMs); // empty, but as env.py leaves it
  for (const h of heads) await tree.upgrade(h, timeoutMs);
  return target;
}

/** Heads of the applied sub-graph: the upgrade targets that rebuild it from empty. */
export function headsWithin(nodes: Map<string, RevisionNode>, applied: Set<string>): string[] {
  const parents = new Set<string>();
  for (const r of applied) for (const p of nodes.get(r)?.downRevisions ?? []) parents.add(p);
  return [...applied].filter((r) => !parents.has(r)).sort();
}
