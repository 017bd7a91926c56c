// Structural comparison of two snapshots. Pure; objects are matched by identity key through
// maps, so the cost is O(n log n) in the number of objects (the final sort), never quadratic.

import type { Snapshot } from './model.js';
import { keyOf } from './normalize.js';

export interface SchemaDifference {
  /** 'extra': in actual, not in expected. 'missing': in expected, not in actual. */
  kind: 'extra' | 'missing' | 'changed';
  /** 'table', 'column', 'index', 'foreign key', 'enum type', 'function', ... */
  objectType: string;
  /**
   * Object name; `public.` omitted, other schemas qualified (`audit.events`). For objects
   * that live on a table (column, constraint, index, trigger, policy) the table is in
   * `table` and `name` is the object's own name (a column: `nickname`).
   */
  name: string;
  table?: string;
  /** Changed field: 'type', 'notNull', 'default', 'onDelete', 'labels', 'definition', ... */
  field?: string;
  expected?: string;
  actual?: string;
}

// The schema names leave out (the engine's default: PostgreSQL's public, SQLite's main); set for
// the length of one diffSnapshots() call, which is synchronous.
let defaultSchema = 'public';

/** Schema-qualified display name, with the default schema (`public.`) left out. */
export function displayName(schema: string, name: string): string {
  return schema === defaultSchema ? name : `${schema}.${name}`;
}

interface KindSpec<T> {
  list: (s: Snapshot) => readonly T[];
  key: (o: T) => string;
  objectType: (o: T) => string;
  name: (o: T) => string;
  table?: (o: T) => string;
  /** Key of the owning table, so an extra or missing table does not also list its parts. */
  parent?: (o: T) => string;
  schema?: (o: T) => string;
  /** Set on the kinds whose extra or missing objects imply their contents. */
  container?: 'schema' | 'table';
  /** Fields that identify the object, or are never reported. */
  skip: readonly string[];
  /** Fields compared first, in this order; the rest follow alphabetically. */
  order?: readonly string[];
}

// Catch-all text that restates other fields (e.g. a FK definition includes its ON DELETE):
// reported only when nothing more specific differs on the same object.
const CATCH_ALL = new Set(['definition']);

const tableKey = (o: { schema: string; table: string }): string => keyOf.table(o.schema, o.table);
const onTable = (o: { schema: string; table: string }): string => displayName(o.schema, o.table);

// The kinds in report order: containers before contents.
const KINDS: KindSpec<any>[] = [
  {
    list: (s) => s.schemas,
    key: keyOf.named,
    objectType: () => 'schema',
    name: (o) => o.name,
    container: 'schema',
    skip: ['name'],
  },
  {
    list: (s) => s.extensions,
    key: keyOf.named,
    objectType: () => 'extension',
    name: (o) => o.name,
    skip: ['name'],
  },
  {
    list: (s) => s.enums,
    key: keyOf.schemaObject,
    objectType: () => 'enum type',
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ['schema', 'name'],
  },
  {
    list: (s) => s.domains,
    key: keyOf.schemaObject,
    objectType: () => 'domain',
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ['schema', 'name'],
    order: ['baseType', 'notNull', 'default', 'checks'],
  },
  {
    list: (s) => s.compositeTypes,
    key: keyOf.schemaObject,
    objectType: () => 'composite type',
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ['schema', 'name'],
  },
  {
    list: (s) => s.sequences,
    key: keyOf.schemaObject,
    objectType: () => 'sequence',
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ['schema', 'name'],
  },
  {
    list: (s) => s.tables,
    key: keyOf.schemaObject,
    objectType: (o) => o.kind,
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    container: 'table',
    skip: ['schema', 'name'],
    order: ['kind', 'partitionOf', 'partitionBound', 'partitionKey', 'unlogged'],
  },
  {
    list: (s) => s.columns,
    key: keyOf.tableObject,
    objectType: () => 'column',
    name: (o) => o.name,
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ['schema', 'table', 'name', 'position'],
    order: ['type', 'notNull', 'default', 'identity', 'generated', 'collation'],
  },
  {
    list: (s) => s.constraints,
    key: keyOf.tableObject,
    objectType: (o) => o.type,
    name: (o) => displayName(o.schema, o.name),
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ['schema', 'table', 'name'],
    order: ['type', 'onDelete', 'onUpdate', 'deferrable', 'initiallyDeferred', 'validated'],
  },
  {
    list: (s) => s.indexes,
    key: keyOf.tableObject,
    objectType: () => 'index',
    name: (o) => displayName(o.schema, o.name),
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ['schema', 'table', 'name'],
    order: ['unique', 'predicate'],
  },
  {
    list: (s) => s.views,
    key: keyOf.schemaObject,
    objectType: (o) => (o.materialized ? 'materialized view' : 'view'),
    name: (o) => displayName(o.schema, o.name),
    schema: (o) => o.schema,
    skip: ['schema', 'name'],
    order: ['materialized'],
  },
  {
    list: (s) => s.routines,
    key: keyOf.routine,
    objectType: (o) => o.kind,
    name: (o) => `${displayName(o.schema, o.name)}(${o.identityArguments})`,
    schema: (o) => o.schema,
    skip: ['schema', 'name', 'identityArguments'],
    order: ['kind', 'arguments', 'returns', 'language', 'bodyHash'],
  },
  {
    list: (s) => s.triggers,
    key: keyOf.tableObject,
    objectType: () => 'trigger',
    name: (o) => o.name,
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ['schema', 'table', 'name'],
  },
  {
    list: (s) => s.policies,
    key: keyOf.tableObject,
    objectType: () => 'policy',
    name: (o) => o.name,
    table: onTable,
    parent: tableKey,
    schema: (o) => o.schema,
    skip: ['schema', 'table', 'name'],
    order: ['command', 'permissive', 'roles', 'using', 'withCheck'],
  },
];

// Lists whose order carries no meaning (normalizeSnapshot sorts them too).
const SET_FIELDS = new Set(['acl', 'checks', 'roles', 'config']);

/** Field values as message text: arrays joined, booleans as true/false, null as absent. */
function asText(field: string, v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return (SET_FIELDS.has(field) ? [...v].sort() : v).join(', ');
  return String(v);
}

const sameList = (a: readonly unknown[], b: readonly unknown[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function sameValue(field: string, a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (sameList(a, b)) return true;
    return SET_FIELDS.has(field) && sameList([...a].sort(), [...b].sort());
  }
  return (a ?? null) === (b ?? null);
}

// Privileges and comments matter least: listed after structural changes of the same object.
const LAST = ['acl', 'comment'];

// The compared fields of one kind: the union of the objects' own keys (hand-built snapshots
// may leave some out), computed once per kind rather than once per object pair.
function fieldsOf(spec: KindSpec<any>, lists: readonly (readonly Record<string, unknown>[])[]): string[] {
  const skip = new Set(spec.skip);
  const first = (spec.order ?? []).filter((f) => !skip.has(f));
  const all = new Set<string>();
  for (const list of lists) for (const o of list) for (const f in o) all.add(f);
  const rest = [...all].filter((f) => !skip.has(f) && !first.includes(f) && !LAST.includes(f)).sort();
  return [...first, ...rest, ...LAST.filter((f) => all.has(f))];
}

interface Keyed {
  d: SchemaDifference;
  kindIndex: number;
  key: string;
  seq: number;
}

/**
 * Differences between `expected` and `actual`, in a stable order: by object kind
 * (schemas, types, tables, columns, constraints, indexes, views, routines, triggers,
 * policies), then by identity. Parts of a table (or anything in a schema) that is itself
 * extra or missing are not listed again. Column position alone is never a difference.
 */
export function diffSnapshots(expected: Snapshot, actual: Snapshot, options: { defaultSchema?: string } = {}): SchemaDifference[] {
  const saved = defaultSchema;
  defaultSchema = options.defaultSchema ?? 'public';
  try {
    return diffWith(expected, actual);
  } finally {
    defaultSchema = saved;
  }
}

function diffWith(expected: Snapshot, actual: Snapshot): SchemaDifference[] {
  // No normalizeSnapshot() here: objects are matched through maps and the output is sorted.
  const exp = expected;
  const act = actual;
  const out: Keyed[] = [];
  // Whole tables and schemas that are extra or missing: their contents are implied.
  const goneTables = new Set<string>();
  const goneSchemas = new Set<string>();

  KINDS.forEach((spec, kindIndex) => {
    const fields = fieldsOf(spec, [spec.list(exp), spec.list(act)]);
    const expMap = new Map<string, any>();
    for (const o of spec.list(exp)) expMap.set(spec.key(o), o);
    const actMap = new Map<string, any>();
    for (const o of spec.list(act)) actMap.set(spec.key(o), o);

    const implied = (o: any): boolean =>
      (spec.schema !== undefined && goneSchemas.has(spec.schema(o))) ||
      (spec.parent !== undefined && goneTables.has(spec.parent(o)));

    const base = (o: any): Omit<SchemaDifference, 'kind'> => {
      const d: Omit<SchemaDifference, 'kind'> = { objectType: spec.objectType(o), name: spec.name(o) };
      if (spec.table) d.table = spec.table(o);
      return d;
    };
    const note = (o: any, key: string, kind: 'extra' | 'missing'): void => {
      if (spec.container === 'schema') goneSchemas.add(key);
      if (spec.container === 'table') goneTables.add(key);
      if (implied(o)) return;
      out.push({ d: { kind, ...base(o) }, kindIndex, key, seq: 0 });
    };

    for (const [key, e] of expMap) {
      const a = actMap.get(key);
      if (a === undefined) {
        note(e, key, 'missing');
        continue;
      }
      let seq = 0;
      const changed: Keyed[] = [];
      for (const field of fields) {
        if (sameValue(field, e[field], a[field])) continue;
        if (CATCH_ALL.has(field) && changed.length > 0) continue;
        const d: SchemaDifference = { kind: 'changed', ...base(a), field };
        const ev = asText(field, e[field]);
        const av = asText(field, a[field]);
        if (ev !== undefined) d.expected = ev;
        if (av !== undefined) d.actual = av;
        changed.push({ d, kindIndex, key, seq: seq++ });
      }
      out.push(...changed);
    }
    for (const [key, a] of actMap) {
      if (!expMap.has(key)) note(a, key, 'extra');
    }
  });

  out.sort(
    (x, y) =>
      x.kindIndex - y.kindIndex ||
      (x.key < y.key ? -1 : x.key > y.key ? 1 : 0) ||
      x.seq - y.seq,
  );
  return out.map((k) => k.d);
}
