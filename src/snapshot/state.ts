// A schema at one moment, as units (a table with everything on it, a type, a routine, ...):
// what the walk compares. Engines build states from their own reads (src/engines/<id>/); two
// states compare unit text by unit text, so equal units cost one string comparison.
import { emptySnapshot, type Snapshot } from './model.js';
import { canonicalJson, normalizeSnapshot } from './normalize.js';

type SnapshotKind = keyof Snapshot;

/** One unit's rows as a (partial) snapshot, and its canonical text (what equality compares). */
export interface Unit {
  rows: Snapshot;
  text: string;
}

/** An immutable picture of the schema at one moment, as units. */
export class SchemaState {
  private whole: Snapshot | null = null;

  constructor(readonly units: ReadonlyMap<string, Unit>) {}

  /** Same schema: the same unit texts (unit keys are oids, which a re-created object changes). */
  equals(other: SchemaState): boolean {
    if (this === other) return true;
    if (this.units.size !== other.units.size) return false;
    const mine: string[] = [];
    const theirs: string[] = [];
    for (const [key, unit] of this.units) {
      const o = other.units.get(key);
      if (o === unit || (o !== undefined && o.text === unit.text)) continue;
      mine.push(unit.text);
      if (o) theirs.push(o.text);
    }
    for (const [key, o] of other.units) if (!this.units.has(key)) theirs.push(o.text);
    if (mine.length !== theirs.length) return false;
    mine.sort();
    theirs.sort();
    return mine.every((t, i) => t === theirs[i]);
  }

  /**
   * This state without a table: the project's own version table (version_table /
   * version_table_schema) is Alembic's bookkeeping, not schema. `schema` null: in any schema.
   */
  withoutTable(schema: string | null, name: string): SchemaState {
    let next: Map<string, Unit> | null = null;
    for (const [key, unit] of this.units) {
      if (!unit.rows.tables.some((t) => t.name === name && (schema === null || t.schema === schema))) continue;
      next ??= new Map(this.units);
      next.delete(key);
    }
    return next ? new SchemaState(next) : this;
  }

  /** The whole snapshot, for diffs and reports (built once). */
  snapshot(): Snapshot {
    if (!this.whole) {
      const lists = emptySnapshot() as unknown as Record<SnapshotKind, unknown[]>;
      for (const unit of this.units.values()) {
        for (const kind of Object.keys(lists) as SnapshotKind[]) lists[kind].push(...unit.rows[kind]);
      }
      this.whole = normalizeSnapshot(lists as unknown as Snapshot);
    }
    return this.whole;
  }
}

/** A unit from its rows; its text is the one snapshotsEqual() compares (normalize.ts). */
export function unitOf(rows: Snapshot): Unit {
  const normalized = normalizeSnapshot(rows);
  return { rows: normalized, text: canonicalJson(normalized) };
}

/** Groups rows by unit key, dropping the key from each row. */

/**
 * multidb: the states of several databases (one per ini section) as one, each object's schema
 * named after its section ("engine2.users" for public.users of engine2's database), so a
 * difference says which database it is in.
 */
export function mergeSections(parts: { section: string; state: SchemaState }[], defaultSchema: string): SchemaState {
  const units = new Map<string, Unit>();
  for (const { section, state } of parts) {
    for (const [key, unit] of state.units) units.set(`${section}\u0001${key}`, inSection(unit, section, defaultSchema));
  }
  return new SchemaState(units);
}

// Unchanged units keep their object from read to read: rename each once per section.
const renamedUnits = new WeakMap<Unit, Map<string, Unit>>();

function inSection(unit: Unit, section: string, defaultSchema: string): Unit {
  let bySection = renamedUnits.get(unit);
  if (!bySection) renamedUnits.set(unit, (bySection = new Map()));
  let renamed = bySection.get(section);
  if (!renamed) {
    const schema = (s: string) => (s === defaultSchema ? section : `${section}.${s}`);
    const lists: Record<string, unknown[]> = {};
    for (const [kind, rows] of Object.entries(unit.rows) as [string, Record<string, unknown>[]][]) {
      lists[kind] = rows.map((row) =>
        kind === 'schemas' ? { ...row, name: schema(row.name as string) } : typeof row.schema === 'string' ? { ...row, schema: schema(row.schema) } : row,
      );
    }
    renamed = unitOf(lists as unknown as Snapshot);
    bySection.set(section, renamed);
  }
  return renamed;
}

/** A state from a whole snapshot, one unit per key `unitOf` gives a row (its table, say). */
export function stateFromSnapshot(snapshot: Snapshot, keyOf: (kind: SnapshotKind, row: Record<string, unknown>) => string): SchemaState {
  const grouped = new Map<string, Record<string, unknown[]>>();
  for (const kind of Object.keys(snapshot) as SnapshotKind[]) {
    for (const row of snapshot[kind] as unknown as Record<string, unknown>[]) {
      const key = keyOf(kind, row);
      let g = grouped.get(key);
      if (!g) grouped.set(key, (g = emptySnapshot() as unknown as Record<string, unknown[]>));
      g[kind]!.push(row);
    }
  }
  const units = new Map<string, Unit>();
  for (const [key, g] of grouped) units.set(key, unitOf(g as unknown as Snapshot));
  return new SchemaState(units);
}
