import { describe, expect, it } from 'vitest';
import { compareFingerprints, type Fingerprint } from '../../src/snapshot/rows.js';
import { fillOrder, insertStatement, parseCheck, type SeedTable } from '../../src/engines/postgresql/seed.js';

const col = (name: string, baseType: string, over: Partial<SeedTable['columns'][number]> = {}) => ({
  name, type: baseType === 'varchar' ? 'character varying(8)' : baseType, baseType, typmod: baseType === 'varchar' ? 12 : -1,
  notNull: true, databaseFills: false, enumLabels: null, isArray: false, ...over,
});

describe('seeding', () => {
  const users: SeedTable = { schema: 'public', name: 'users', columns: [col('id', 'int4', { databaseFills: true }), col('code', 'varchar')], foreignKeys: [] };
  const orders: SeedTable = {
    schema: 'public', name: 'orders',
    columns: [col('id', 'int4', { databaseFills: true }), col('user_id', 'int4'), col('parent_id', 'int4', { notNull: false }), col('status', 'order_status', { enumLabels: ['a', 'b'] })],
    foreignKeys: [
      { columns: ['user_id'], refSchema: 'public', refTable: 'users', refColumns: ['id'] },
      { columns: ['parent_id'], refSchema: 'public', refTable: 'orders', refColumns: ['id'] },
    ],
  };

  it('fills parents before children, whatever the order they are read in', () => {
    expect(fillOrder([orders, users]).map((t) => t.name)).toEqual(['users', 'orders']);
  });

  it('writes one INSERT ... SELECT per table: defaults left out, references to parent rows, self-references null', () => {
    const s = insertStatement(orders, 5, 7);
    expect('sql' in s && s.sql).toBe(
      'INSERT INTO "public"."orders" ("user_id", "status") SELECT (SELECT p."id" FROM "public"."users" p WHERE p."id" IS NOT NULL ORDER BY p."id" OFFSET (g - 1) % GREATEST((SELECT count(*) FROM "public"."users"), 1) LIMIT 1), ' +
        "((ARRAY['a', 'b'])[1 + (g - 1) % 2])::order_status FROM generate_series(1, 5) g",
    );
    expect(insertStatement(users, 3, 7)).toEqual({ sql: `INSERT INTO "public"."users" ("code") SELECT (left(md5('7:users.code' || g::text), 8))::character varying(8) FROM generate_series(1, 3) g` });
  });

  it('names the column when a NOT NULL value cannot be made', () => {
    const t: SeedTable = { schema: 'public', name: 'shapes', columns: [col('area', 'geometry')], foreignKeys: [] };
    expect(insertStatement(t, 5, 1)).toEqual({ reason: 'no value can be made for area (geometry)' });
  });
});

describe('comparing fingerprints', () => {
  const fp = (rows: (string | null)[][], columns = ['id', 'email'], primaryKey: string[] | null = ['id']): Fingerprint =>
    new Map([['users', { table: 'users', columns, primaryKey, count: rows.length, rows }]]);

  it('counts changed values per column by primary key, and rows gone', () => {
    const before = fp([['1', 'a'], ['2', 'b'], ['3', 'c']]);
    expect(compareFingerprints(before, fp([['1', 'A'], ['2', 'b']]))).toEqual([{ table: 'users', before: 3, rowsGone: 1, changed: [{ column: 'email', count: 1 }], countOnly: false }]);
  });

  it('ignores columns added afterwards and tables without rows', () => {
    const before = fp([['1', 'a']]);
    expect(compareFingerprints(before, fp([['1', 'a', 'new']], ['id', 'email', 'nickname']))).toEqual([]);
    expect(compareFingerprints(fp([]), fp([]))).toEqual([]);
  });

  it('compares tables without a key by content', () => {
    const before = fp([['1', 'a'], ['1', 'a']], ['id', 'email'], null);
    expect(compareFingerprints(before, fp([['1', 'a']], ['id', 'email'], null))).toEqual([{ table: 'users', before: 2, rowsGone: 1, changed: [], countOnly: false }]);
  });
});

describe('parseCheck: the CHECK shapes seeding satisfies (pg_get_constraintdef of PostgreSQL 15)', () => {
  it.each([
    ["CHECK (((status)::text = ANY ((ARRAY['new'::character varying, 'paid'::character varying])::text[])))", 'status', { values: ['new', 'paid'] }],
    ["CHECK ((kind = ANY (ARRAY['a'::text, 'b''c'::text])))", 'kind', { values: ['a', "b'c"] }],
    ['CHECK ((price > (0)::numeric))', 'price', { min: 1 }],
    ['CHECK (((qty >= 1) AND (qty <= 10)))', 'qty', { min: 1, max: 10 }],
    ['CHECK ((char_length((code)::text) <= 4))', 'code', { maxLength: 4 }],
    ['CHECK ((length(nm) > 2))', 'nm', { minLength: 3 }],
    ['CHECK ((pos >= 0))', 'pos', { min: 0 }],
    ['CHECK ((neg < 0))', 'neg', { max: -1 }],
  ] as const)('%s', (def, column, expected) => {
    expect(parseCheck(def, column)).toEqual(expected);
  });

  it('leaves other shapes alone', () => {
    expect(parseCheck('CHECK ((starts_at < ends_at))', 'starts_at')).toBeUndefined();
    expect(parseCheck("CHECK (((email)::text ~~ '%@%'::text))", 'email')).toBeUndefined();
    expect(parseCheck('CHECK (((qty > 0) OR (qty IS NULL)))', 'qty')).toBeUndefined();
  });
});
