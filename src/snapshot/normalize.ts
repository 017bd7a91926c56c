// Sorting and canonical text for snapshots: after normalizeSnapshot() two snapshots of the
// same schema are equal as data, whatever order the catalogs returned rows in.

import type { Snapshot } from './model.js';

const SEP = '\u0001';

/** Identity keys, shared with the diff so that sort order and matching agree. */
export const keyOf = {
  schemaObject: (o: { schema: string; name: string }): string => o.schema + SEP + o.name,
  tableObject: (o: { schema: string; table: string; name: string }): string =>
    o.schema + SEP + o.table + SEP + o.name,
  routine: (o: { schema: string; name: string; identityArguments: string }): string =>
    o.schema + SEP + o.name + SEP + o.identityArguments,
  named: (o: { name: string }): string => o.name,
  table: (schema: string, table: string): string => schema + SEP + table,
};

// Code-unit order, not localeCompare: the result must not depend on the machine's locale.
function byKey<T>(list: readonly T[], key: (o: T) => string): T[] {
  const keyed = list.map((o) => [key(o), o] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return keyed.map((k) => k[1]);
}

const sorted = (xs: readonly string[]): string[] => [...xs].sort();

/** A sorted copy; the input is not changed. Set-like inner lists are sorted too. */
export function normalizeSnapshot(s: Snapshot): Snapshot {
  return {
    schemas: byKey(s.schemas, keyOf.named).map((o) => ({ ...o, acl: sorted(o.acl) })),
    extensions: byKey(s.extensions, keyOf.named),
    enums: byKey(s.enums, keyOf.schemaObject),
    domains: byKey(s.domains, keyOf.schemaObject).map((o) => ({ ...o, checks: sorted(o.checks) })),
    compositeTypes: byKey(s.compositeTypes, keyOf.schemaObject),
    sequences: byKey(s.sequences, keyOf.schemaObject).map((o) => ({ ...o, acl: sorted(o.acl) })),
    tables: byKey(s.tables, keyOf.schemaObject).map((o) => ({ ...o, acl: sorted(o.acl) })),
    columns: byKey(s.columns, keyOf.tableObject),
    constraints: byKey(s.constraints, keyOf.tableObject),
    indexes: byKey(s.indexes, keyOf.tableObject),
    views: byKey(s.views, keyOf.schemaObject).map((o) => ({ ...o, acl: sorted(o.acl) })),
    routines: byKey(s.routines, keyOf.routine).map((o) => ({ ...o, config: sorted(o.config) })),
    triggers: byKey(s.triggers, keyOf.tableObject),
    policies: byKey(s.policies, keyOf.tableObject).map((o) => ({ ...o, roles: sorted(o.roles) })),
  };
}

/** JSON with object keys sorted, so key insertion order cannot make equal data unequal. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map(stableStringify).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    if (obj[k] === undefined) continue;
    parts.push(JSON.stringify(k) + ':' + stableStringify(obj[k]));
  }
  return '{' + parts.join(',') + '}';
}

// Snapshots are treated as immutable once taken; the canonical text is computed once each.
const canonicalCache = new WeakMap<Snapshot, string>();

export function canonicalJson(s: Snapshot): string {
  let text = canonicalCache.get(s);
  if (text === undefined) {
    const n = normalizeSnapshot(s);
    // Column position is not a difference (see diff.ts), so it is not part of equality either.
    const comparable = { ...n, columns: n.columns.map(({ position: _position, ...rest }) => rest) };
    text = stableStringify(comparable);
    canonicalCache.set(s, text);
  }
  return text;
}

/** Fast path before diffSnapshots(): true exactly when the diff would be empty. */
export function snapshotsEqual(a: Snapshot, b: Snapshot): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}
