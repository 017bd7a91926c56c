// One readable line per schema difference, worded for the round-trip phase it came from.
// In 'downgrade', expected = before the upgrade, actual = after upgrade + downgrade.
// In 'reupgrade', expected = after the first upgrade, actual = after upgrade, downgrade, upgrade.

import type { SchemaDifference } from './diff.js';

export interface DifferenceContext {
  phase: 'downgrade' | 'reupgrade';
  revision: string;
}

// Objects that live on a table are named with it; a column reads as `users.email`.
const ON_TABLE = new Set([
  'index',
  'primary key',
  'unique constraint',
  'check constraint',
  'exclusion constraint',
  'foreign key',
  'trigger',
  'policy',
]);

function label(d: SchemaDifference, withTable: boolean): string {
  if (d.objectType === 'column') return `column ${d.table ? `${d.table}.` : ''}${d.name}`;
  const base = `${d.objectType} ${d.name}`;
  return withTable && d.table && ON_TABLE.has(d.objectType) ? `${base} on ${d.table}` : base;
}

/** format_type() spells types the long SQL way; messages use the names people write. */
export function shortTypeName(t: string): string {
  return t
    .replace(/\bcharacter varying\b/g, 'varchar')
    .replace(/\bcharacter\b/g, 'char')
    .replace(/\bbit varying\b/g, 'varbit')
    .replace(/\b(timestamp|time)(\(\d+\))? without time zone\b/g, '$1$2')
    .replace(/\btimestamp(\(\d+\))? with time zone\b/g, 'timestamptz$1')
    .replace(/\btime(\(\d+\))? with time zone\b/g, 'timetz$1');
}

const MAX_VALUE = 200;
function shown(v: string | undefined): string {
  if (v === undefined) return 'none';
  return v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}...` : v;
}

const FIELD_LABELS: Record<string, string> = {
  default: 'default',
  comment: 'comment',
  definition: 'definition',
  identity: 'identity',
  generated: 'generated expression',
  collation: 'collation',
  partitionBound: 'partition bound',
  partitionKey: 'partition key',
  returns: 'return type',
  arguments: 'arguments',
  language: 'language',
  volatility: 'volatility',
  baseType: 'base type',
  using: 'USING expression',
  withCheck: 'WITH CHECK expression',
  command: 'command',
  enabled: 'firing mode',
  ownedBy: 'owned by',
  predicate: 'predicate',
  kind: 'kind',
  type: 'type',
};

// List-valued fields read "are (...), were (...)".
const LIST_LABELS: Record<string, string> = {
  labels: 'labels',
  acl: 'privileges',
  roles: 'roles',
  checks: 'checks',
  attributes: 'attributes',
  config: 'settings',
};

// Boolean fields: the words for true and false.
const BOOL_WORDS: Record<string, [string, string]> = {
  notNull: ['NOT NULL', 'nullable'],
  unlogged: ['UNLOGGED', 'logged'],
  validated: ['validated', 'NOT VALID'],
  deferrable: ['DEFERRABLE', 'NOT DEFERRABLE'],
  initiallyDeferred: ['INITIALLY DEFERRED', 'INITIALLY IMMEDIATE'],
  unique: ['unique', 'not unique'],
  cycle: ['CYCLE', 'NO CYCLE'],
  strict: ['STRICT', 'not STRICT'],
  securityDefiner: ['SECURITY DEFINER', 'SECURITY INVOKER'],
  permissive: ['PERMISSIVE', 'RESTRICTIVE'],
  materialized: ['materialized', 'not materialized'],
};

const boolWord = (field: string, v: string | undefined): string =>
  v === 'true' ? BOOL_WORDS[field]![0] : BOOL_WORDS[field]![1];

function describeChange(d: SchemaDifference): string {
  const what = label(d, false);
  // Table-scoped objects other than columns name their table at the end, so that the object
  // name comes right before what happened to it.
  const tail = d.table && ON_TABLE.has(d.objectType) ? ` (on ${d.table})` : '';
  const field = d.field ?? 'definition';
  const e = d.expected;
  const a = d.actual;

  if (field === 'onDelete' || field === 'onUpdate') {
    const action = field === 'onDelete' ? 'ON DELETE' : 'ON UPDATE';
    const isDefault = (v: string | undefined): boolean => v === undefined || v === 'NO ACTION';
    if (isDefault(a)) return `${what} lost ${action} ${e}${tail}`;
    if (isDefault(e)) return `${what} gained ${action} ${a}${tail}`;
    return `${what} has ${action} ${a}, was ${action} ${e}${tail}`;
  }
  if (field === 'type' && (d.objectType === 'column' || d.objectType === 'sequence')) {
    return `${what} is ${shortTypeName(a ?? '?')}, was ${shortTypeName(e ?? '?')}${tail}`;
  }
  if (field === 'baseType') {
    return `${what} base type is ${shortTypeName(a ?? '?')}, was ${shortTypeName(e ?? '?')}`;
  }
  if (field === 'rowSecurity' || field === 'forceRowSecurity') {
    const what2 = field === 'rowSecurity' ? 'row-level security' : 'FORCE ROW LEVEL SECURITY';
    const word = (v: string | undefined): string => (v === 'true' ? 'enabled' : 'disabled');
    return `${what} has ${what2} ${word(a)}, was ${word(e)}`;
  }
  if (field === 'partitionOf') {
    if (a === undefined) return `${what} is no longer a partition of ${e}`;
    if (e === undefined) return `${what} is now a partition of ${a}`;
    return `${what} is a partition of ${a}, was of ${e}`;
  }
  if (field === 'bodyHash') return `${what} body differs${tail}`;
  if (Object.hasOwn(BOOL_WORDS, field)) return `${what} is ${boolWord(field, a)}, was ${boolWord(field, e)}${tail}`;
  if (Object.hasOwn(LIST_LABELS, field)) {
    return `${what} ${LIST_LABELS[field]} are (${shown(a)}), were (${shown(e)})${tail}`;
  }
  if (field === 'comment') {
    const quoted = (v: string | undefined): string => (v === undefined ? 'none' : `'${shown(v)}'`);
    return `${what} comment is ${quoted(a)}, was ${quoted(e)}${tail}`;
  }
  const name = Object.hasOwn(FIELD_LABELS, field) ? FIELD_LABELS[field] : field;
  return `${what} ${name} is ${shown(a)}, was ${shown(e)}${tail}`;
}

/** One line naming the object, e.g. "downgrade of c3d4e5f6a1b2 leaves enum type ticket_status behind". */
export function describeDifference(d: SchemaDifference, ctx: DifferenceContext): string {
  const rev = ctx.revision;
  const obj = label(d, true);
  if (ctx.phase === 'downgrade') {
    if (d.kind === 'extra') return `downgrade of ${rev} leaves ${obj} behind`;
    if (d.kind === 'missing') return `downgrade of ${rev} drops ${obj}, which existed before the upgrade`;
    return `downgrade of ${rev}: ${describeChange(d)}`;
  }
  if (d.kind === 'extra') return `re-upgrade of ${rev} creates ${obj} that the first upgrade did not`;
  if (d.kind === 'missing') return `re-upgrade of ${rev} does not recreate ${obj}`;
  return `re-upgrade of ${rev}: ${describeChange(d)}`;
}
