// Incremental schema snapshots. A round trip reads the schema three times per revision; read
// whole, each read costs time in proportion to the schema (every table's columns, indexes and
// constraints rendered by the server), so long histories slowed down as they grew. Instead:
//
// - The snapshot is cut into units: a relation with everything on it, a type, a routine, a
//   schema, an extension (queries.ts gives every row its unit key).
// - Two event triggers, installed in the throwaway database, report every DDL command's
//   objects (ddl_command_end) and every dropped object (sql_drop) with NOTIFY. NOTIFY is
//   transactional, so a migration that rolls back reports nothing, as it changed nothing.
// - A read re-renders only the units those objects belong to, plus the units that depend on
//   them (views, foreign keys and sequences that name a renamed column, ...), and keeps the
//   rest from the previous read. Equal units keep the same text, so comparing two states
//   costs one string comparison per changed unit.
//
// What DDL events cannot see, a read cannot either: GRANT/REVOKE and changes to a schema or
// an extension report no usable objects, so they make the next read a whole one; so does a
// step the worker saw writing to the catalogs directly (`markStale`). `verify()` compares the
// tracked state with a whole read, and the gate redoes a walk with whole reads if it differs.
// Where the triggers cannot be installed (no superuser), every read is a whole one.

import type pg from 'pg';
import { emptySnapshot, type Snapshot } from '../../snapshot/model.js';
import { SchemaState, unitOf, type Unit } from '../../snapshot/state.js';
import { CATALOG, INTERNAL_SCHEMA, PLANNED_LEAD, PLANNED_TAIL, SNAPSHOT_QUERIES, deltaSql, partsSql, planned, resolveSql, type SnapshotKind } from './queries.js';
import { executePrepared, kindRows, readAllRows, type KindRows, type UnitRow } from './read.js';

const CHANNEL = 'alembic_gate_ddl';
const TRIGGERS = ['alembic_gate_ddl_end', 'alembic_gate_sql_drop'] as const;

// One NOTIFY per DDL command: `c <classid>:<objid> ...` for the objects a command created or
// altered, `d ...` for those it dropped, `F` for "read everything" (GRANT/REVOKE report no
// object; a schema rename or an extension changes whole groups of objects). NOTIFY payloads
// are limited to 8000 bytes, and a failing NOTIFY would fail the migration: long lists fall
// back to `F`.
const INSTALL_SQL = `
BEGIN;
CREATE SCHEMA IF NOT EXISTS ${INTERNAL_SCHEMA};
CREATE OR REPLACE FUNCTION ${INTERNAL_SCHEMA}.on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE p text;
BEGIN
  SELECT string_agg(CASE
      WHEN c.classid IS NULL THEN CASE WHEN c.command_tag = 'ALTER DEFAULT PRIVILEGES' THEN NULL ELSE 'F' END
      WHEN c.classid = 'pg_extension'::regclass THEN 'F'
      WHEN c.classid = 'pg_namespace'::regclass AND c.command_tag = 'ALTER SCHEMA' THEN 'F'
      ELSE c.classid::oid::text || ':' || c.objid::text END, ' ')
    INTO p FROM pg_event_trigger_ddl_commands() c;
  IF p IS NOT NULL THEN
    PERFORM pg_notify('${CHANNEL}', CASE WHEN length(p) > 7000 OR p ~ '(^| )F( |$)' THEN 'F' ELSE 'c ' || p END);
  END IF;
END $$;
CREATE OR REPLACE FUNCTION ${INTERNAL_SCHEMA}.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE p text; f boolean;
BEGIN
  SELECT string_agg(d.classid::oid::text || ':' || d.objid::text, ' '), bool_or(d.classid = 'pg_extension'::regclass)
    INTO p, f FROM pg_event_trigger_dropped_objects() d;
  IF p IS NOT NULL THEN
    PERFORM pg_notify('${CHANNEL}', CASE WHEN f OR length(p) > 7000 THEN 'F' ELSE 'd ' || p END);
  END IF;
END $$;
DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[0]};
DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[1]};
CREATE EVENT TRIGGER ${TRIGGERS[0]} ON ddl_command_end EXECUTE PROCEDURE ${INTERNAL_SCHEMA}.on_ddl_end();
CREATE EVENT TRIGGER ${TRIGGERS[1]} ON sql_drop EXECUTE PROCEDURE ${INTERNAL_SCHEMA}.on_sql_drop();
ALTER EVENT TRIGGER ${TRIGGERS[0]} ENABLE ALWAYS;
ALTER EVENT TRIGGER ${TRIGGERS[1]} ENABLE ALWAYS;
COMMIT;
LISTEN ${CHANNEL};`;

const UNINSTALL_SQL = `UNLISTEN ${CHANNEL}; DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[0]}; DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[1]}; DROP SCHEMA IF EXISTS ${INTERNAL_SCHEMA} CASCADE;`;

// Both triggers still there and firing (a migration may drop them, or disable them). The
// round trip also delivers every notification committed before it started: PostgreSQL sends
// them to this session ahead of the query's result.
const CHECK_SQL = `SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname IN ('${TRIGGERS[0]}', '${TRIGGERS[1]}') AND evtenabled = 'A'`;

function groupUnits(rows: KindRows, into: Map<string, Unit>): void {
  const grouped = new Map<string, Record<SnapshotKind, unknown[]>>();
  for (const [kind] of SNAPSHOT_QUERIES) {
    for (const { _unit, ...row } of rows[kind] as UnitRow[]) {
      let g = grouped.get(_unit);
      if (!g) grouped.set(_unit, (g = emptySnapshot() as unknown as Record<SnapshotKind, unknown[]>));
      g[kind].push(row);
    }
  }
  for (const [key, g] of grouped) into.set(key, unitOf(g as unknown as Snapshot));
}

/** What the triggers reported since the last read: `classid:objid` of each object. */
interface PendingChanges {
  whole: boolean;
  touched: Set<string>;
  dropped: Set<string>;
}

const nothingPending = (): PendingChanges => ({ whole: false, touched: new Set(), dropped: new Set() });

export interface ReadOptions {
  /** Read everything, whatever the triggers reported. */
  whole?: boolean;
}

export class SchemaTracker {
  private state: SchemaState | null = null;
  private pending = nothingPending();
  /** `classid:objid` of every object a unit is made of -> the unit. */
  private partOwner = new Map<string, string>();
  private partsOf = new Map<string, string[]>();
  /** Unit -> the units it depended on when last read, and the reverse. */
  private refsOf = new Map<string, string[]>();
  private dependents = new Map<string, Set<string>>();
  private onNotification = (msg: pg.Notification): void => {
    if (msg.channel === CHANNEL) this.take(msg.payload ?? 'F');
  };
  /** How the last read was made: for tests and diagnostics. */
  lastRead: 'whole' | 'incremental' | 'unchanged' = 'whole';

  private constructor(
    private readonly client: pg.Client,
    private tracking: boolean,
  ) {}

  /**
   * Installs the event triggers in the database `client` is connected to (the gate's own
   * throwaway database) and listens for them. Without the rights to do so, every read is whole.
   */
  static async attach(client: pg.Client, options: { incremental?: boolean } = {}): Promise<SchemaTracker> {
    const tracker = new SchemaTracker(client, false);
    if (options.incremental === false) return tracker;
    try {
      await client.query(INSTALL_SQL);
      client.on('notification', tracker.onNotification);
      tracker.tracking = true;
    } catch {
      await client.query('ROLLBACK').catch(() => {});
    }
    return tracker;
  }

  get incremental(): boolean {
    return this.tracking;
  }

  /** The next read is a whole one (a step wrote to the catalogs in a way DDL events miss). */
  markStale(): void {
    this.pending.whole = true;
  }

  private take(payload: string): void {
    if (payload === 'F' || payload.length < 2) {
      this.pending.whole = true;
      return;
    }
    const into = payload[0] === 'd' ? this.pending.dropped : this.pending.touched;
    for (const item of payload.slice(2).split(' ')) into.add(item);
  }

  async read(options: ReadOptions = {}): Promise<SchemaState> {
    if (!this.tracking || options.whole || !this.state) return this.readWhole();
    const check = await this.client.query<{ n: number }>(CHECK_SQL);
    if (check.rows[0]!.n !== TRIGGERS.length) {
      // Dropped or disabled by a migration: put them back and start over from a whole read.
      this.tracking = false;
      await this.client.query(INSTALL_SQL).then(() => (this.tracking = true), () => this.client.query('ROLLBACK').catch(() => {}));
      return this.readWhole();
    }
    const pending = this.takePending();
    if (pending.whole) return this.readWhole();
    if (pending.touched.size === 0 && pending.dropped.size === 0) {
      this.lastRead = 'unchanged';
      return this.state;
    }
    this.lastRead = 'incremental';

    const stale = new Set<string>();
    const units = this.state.units;
    for (const item of pending.dropped) {
      const [c, o] = item.split(':').map(Number) as [number, number];
      const own = c === CATALOG.pg_class ? `r${o}` : c === CATALOG.pg_type ? `t${o}` : c === CATALOG.pg_proc ? `p${o}` : null;
      if (own && units.has(own)) stale.add(own);
      const owner = this.partOwner.get(item);
      if (owner) stale.add(owner);
    }
    if (pending.touched.size) {
      const objects = [...pending.touched].map((item) => item.split(':').map(Number) as [number, number]);
      const resolved = await this.delta(resolveSql(objects), 1);
      for (const r of resolved[0]!.rows as Array<{ unit: string }>) stale.add(r.unit);
    }
    for (const key of [...stale]) for (const d of this.dependents.get(key) ?? []) stale.add(d);

    const oids = splitUnits(stale);
    const { sql, kinds } = deltaSql(oids);
    const results = await this.delta(sql + '\n' + partsSql(oids), kinds.length + 1);
    const next = new Map(units);
    for (const key of stale) next.delete(key);
    for (const key of units.keys()) if (key[0] === 'n' || key[0] === 'e') next.delete(key);
    groupUnits(kindRows(results.slice(0, kinds.length), kinds), next);
    this.forget(stale);
    this.learn(results[kinds.length]!.rows as PartRow[], next);
    this.state = new SchemaState(next);
    return this.state;
  }

  /** True when the tracked state is what a whole read sees now. */
  async verify(): Promise<boolean> {
    if (!this.tracking || !this.state) return true;
    const tracked = this.state;
    const now = await this.readWhole();
    return tracked.equals(now);
  }

  /** Removes the triggers: the database is left as the migrations made it. */
  async detach(): Promise<void> {
    this.client.removeListener('notification', this.onNotification);
    if (this.tracking) {
      this.tracking = false;
      await this.client.query(UNINSTALL_SQL).catch(() => {});
    }
  }

  private async readWhole(): Promise<SchemaState> {
    this.lastRead = 'whole';
    if (this.tracking) {
      // Notifications of changes made before this read are delivered with this round trip;
      // the read below sees those changes, so they are dropped afterwards.
      await this.client.query(CHECK_SQL);
      this.takePending();
    }
    const rows = await readAllRows(this.client);
    const map = new Map<string, Unit>();
    groupUnits(rows, map);
    this.state = new SchemaState(map);
    if (this.tracking) {
      this.partOwner.clear();
      this.partsOf.clear();
      this.refsOf.clear();
      this.dependents.clear();
      const [parts] = await this.delta(partsSql(splitUnits(map.keys())), 1);
      this.learn(parts!.rows as PartRow[], map);
    }
    return this.state;
  }

  private takePending(): PendingChanges {
    const pending = this.pending;
    this.pending = nothingPending();
    return pending;
  }

  /** Delta statements (see planned() in queries.ts): the statements' own results. */
  private async delta(sql: string, count: number): Promise<pg.QueryResult[]> {
    const results = await executePrepared(this.client, planned(sql), PLANNED_LEAD + count + PLANNED_TAIL);
    return results.slice(PLANNED_LEAD, PLANNED_LEAD + count);
  }

  private forget(keys: Iterable<string>): void {
    for (const key of keys) {
      for (const part of this.partsOf.get(key) ?? []) if (this.partOwner.get(part) === key) this.partOwner.delete(part);
      this.partsOf.delete(key);
      for (const ref of this.refsOf.get(key) ?? []) this.dependents.get(ref)?.delete(key);
      this.refsOf.delete(key);
    }
  }

  private learn(rows: PartRow[], units: ReadonlyMap<string, Unit>): void {
    for (const { unit, part, refs } of rows) {
      if (!units.has(unit)) continue;
      this.partOwner.set(part, unit);
      let parts = this.partsOf.get(unit);
      if (!parts) this.partsOf.set(unit, (parts = []));
      parts.push(part);
      for (const ref of refs) {
        if (ref === null || ref === unit) continue;
        let mine = this.refsOf.get(unit);
        if (!mine) this.refsOf.set(unit, (mine = []));
        mine.push(ref);
        let deps = this.dependents.get(ref);
        if (!deps) this.dependents.set(ref, (deps = new Set()));
        deps.add(unit);
      }
    }
  }
}

interface PartRow {
  unit: string;
  part: string;
  refs: Array<string | null>;
}

function splitUnits(keys: Iterable<string>): { rel: number[]; type: number[]; proc: number[] } {
  const out = { rel: [] as number[], type: [] as number[], proc: [] as number[] };
  for (const key of keys) {
    const oid = Number(key.slice(1));
    if (key[0] === 'r') out.rel.push(oid);
    else if (key[0] === 't') out.type.push(oid);
    else if (key[0] === 'p') out.proc.push(oid);
  }
  return out;
}

