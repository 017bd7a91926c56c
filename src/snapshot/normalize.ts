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
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A copy of `list` sorted by `key`, each object rebuilt with its keys in sorted order (the
 * union over the list, less `omit`). With one key order for every object of a kind, plain
 * JSON.stringify is canonical, which is several times faster than a key-sorting replacer.
 */
function canonicalList<T extends object>(
  list: readonly T[],
  key: (o: T) => string,
  omit: ReadonlySet<string> = new Set(),
): T[] {
  const fields = new Set<string>();
  for (const o of list) for (const f in o) if (!omit.has(f)) fields.add(f);
  const order = [...fields].sort(compare);
  const keyed = list.map((o) => [key(o), o] as const);
  keyed.sort((a, b) => compare(a[0], b[0]));
  return keyed.map(([, o]) => {
    const copy: Record<string, unknown> = {};
    for (const f of order) {
      const v = (o as Record<string, unknown>)[f];
      // Lists are copied: normalizeSnapshot sorts some of them and must not touch the input.
      copy[f] = Array.isArray(v) ? [...v] : v;
    }
    return copy as T;
  });
}

const sortStrings = <T>(list: T[], field: keyof T): T[] => {
  for (const o of list) (o[field] as unknown as string[]).sort(compare);
  return list;
};

// Results of normalizeSnapshot(): normalizing one again would give an equal copy, so
// canonicalJson() skips that step for them (snapshots are immutable once taken).
const normalized = new WeakSet<Snapshot>();

/** A sorted copy; the input is not changed. Set-like inner lists are sorted too. */
export function normalizeSnapshot(s: Snapshot): Snapshot {
  const n: Snapshot = {
    schemas: sortStrings(canonicalList(s.schemas, keyOf.named), 'acl'),
    extensions: canonicalList(s.extensions, keyOf.named),
    enums: canonicalList(s.enums, keyOf.schemaObject),
    domains: sortStrings(canonicalList(s.domains, keyOf.schemaObject), 'checks'),
    compositeTypes: canonicalList(s.compositeTypes, keyOf.schemaObject),
    sequences: sortStrings(canonicalList(s.sequences, keyOf.schemaObject), 'acl'),
    tables: sortStrings(canonicalList(s.tables, keyOf.schemaObject), 'acl'),
    columns: canonicalList(s.columns, keyOf.tableObject),
    constraints: canonicalList(s.constraints, keyOf.tableObject),
    indexes: canonicalList(s.indexes, keyOf.tableObject),
    views: sortStrings(canonicalList(s.views, keyOf.schemaObject), 'acl'),
    routines: sortStrings(canonicalList(s.routines, keyOf.routine), 'config'),
    triggers: canonicalList(s.triggers, keyOf.tableObject),
    policies: sortStrings(canonicalList(s.policies, keyOf.tableObject), 'roles'),
  };
  normalized.add(n);
  return n;
}

// Snapshots are treated as immutable once taken; the canonical text is computed once each.
const canonicalCache = new WeakMap<Snapshot, string>();

export function canonicalJson(s: Snapshot): string {
  let text = canonicalCache.get(s);
  if (text === undefined) {
    // Column position is not a difference (see diff.ts), so it is not part of equality either.
    const n = normalized.has(s) ? { ...s } : normalizeSnapshot(s);
    n.columns = canonicalList(n.columns, keyOf.tableObject, new Set(['position']));
    text = JSON.stringify(n);
    canonicalCache.set(s, text);
  }
  return text;
}

/**
 * Fast path before diffSnapshots(): true when the diff would be empty (it compares the same
 * fields, ignoring column position and the order of privilege, role and check lists).
 */
export function snapshotsEqual(a: Snapshot, b: Snapshot): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}
