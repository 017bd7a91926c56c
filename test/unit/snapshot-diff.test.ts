// Pure tests of the snapshot diff, its wording, and equality, on hand-built snapshots.

import { describe, expect, it } from 'vitest';
import {
  describeDifference,
  diffSnapshots,
  emptySnapshot,
  normalizeSnapshot,
  snapshotsEqual,
  type Column,
  type Constraint,
  type SchemaDifference,
  type Snapshot,
  type Table,
} from '../../src/snapshot/index.js';

const REV = 'c3d4e5f6a1b2';

const table = (name: string, over: Partial<Table> = {}): Table => ({
  schema: 'public',
  name,
  kind: 'table',
  unlogged: false,
  partitionOf: null,
  partitionBound: null,
  partitionKey: null,
  rowSecurity: false,
  forceRowSecurity: false,
  comment: null,
  acl: ['postgres=arwdDxt/postgres'],
  ...over,
});

const column = (tableName: string, name: string, type: string, over: Partial<Column> = {}): Column => ({
  schema: 'public',
  table: tableName,
  name,
  position: 1,
  type,
  notNull: false,
  default: null,
  identity: null,
  generated: null,
  collation: null,
  comment: null,
  ...over,
});

const fk = (over: Partial<Constraint> = {}): Constraint => ({
  schema: 'public',
  table: 'posts',
  name: 'posts_user_id_fkey',
  type: 'foreign key',
  definition: 'FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE',
  validated: true,
  deferrable: false,
  initiallyDeferred: false,
  onDelete: 'CASCADE',
  onUpdate: 'NO ACTION',
  comment: null,
  ...over,
});

/** users(id, name varchar(50), email) and posts(id, user_id) with a cascading FK. */
function base(): Snapshot {
  const s = emptySnapshot();
  s.schemas.push({ name: 'public', comment: 'standard public schema', acl: ['=U/postgres'] });
  s.tables.push(table('users'), table('posts'));
  s.columns.push(
    column('users', 'id', 'integer', { notNull: true, position: 1 }),
    column('users', 'name', 'character varying(50)', { position: 2 }),
    column('users', 'email', 'character varying(200)', { position: 3 }),
    column('users', 'status', 'text', { position: 4 }),
    column('posts', 'id', 'integer', { notNull: true }),
    column('posts', 'user_id', 'integer', { position: 2 }),
  );
  s.constraints.push(fk());
  s.enums.push({ schema: 'public', name: 'ticket_status', labels: ['a', 'b', 'c'], comment: null });
  return s;
}

type Edit = (s: Snapshot) => void;
const edited = (edit: Edit): Snapshot => {
  const s = base();
  edit(s);
  return s;
};

/** Lines for base() -> edited(edit) in one phase. */
const describeEdit = (edit: Edit, phase: 'downgrade' | 'reupgrade' = 'downgrade'): string[] =>
  diffSnapshots(base(), edited(edit)).map((d) => describeDifference(d, { phase, revision: REV }));

describe('describeDifference wording', () => {
  const cases: Array<{ name: string; edit: Edit; phase?: 'downgrade' | 'reupgrade'; expected: string[] }> = [
    {
      name: 'extra enum type after downgrade',
      edit: (s) => s.enums.push({ schema: 'public', name: 'priority', labels: ['low'], comment: null }),
      expected: ['downgrade of c3d4e5f6a1b2 leaves enum type priority behind'],
    },
    {
      name: 'extra index after downgrade',
      edit: (s) =>
        s.indexes.push({
          schema: 'public',
          table: 'users',
          name: 'ix_users_email',
          definition: 'CREATE INDEX ix_users_email ON public.users USING btree (email)',
          unique: false,
          predicate: null,
          comment: null,
        }),
      expected: ['downgrade of c3d4e5f6a1b2 leaves index ix_users_email on users behind'],
    },
    {
      name: 'extra column after downgrade',
      edit: (s) => s.columns.push(column('users', 'nickname', 'text', { position: 9 })),
      expected: ['downgrade of c3d4e5f6a1b2 leaves column users.nickname behind'],
    },
    {
      name: 'extra sequence in another schema',
      edit: (s) => {
        s.schemas.push({ name: 'audit', comment: null, acl: [] });
        s.tables.push(table('events', { schema: 'audit' }));
        s.sequences.push({
          schema: 'audit',
          name: 'event_ids',
          type: 'bigint',
          start: '1',
          increment: '1',
          min: '1',
          max: '9223372036854775807',
          cache: '1',
          cycle: false,
          ownedBy: null,
          comment: null,
          acl: [],
        });
      },
      // The schema is left behind, and with it everything in it: one line, not three.
      expected: ['downgrade of c3d4e5f6a1b2 leaves schema audit behind'],
    },
    {
      name: 'extra table in a schema that existed before',
      edit: (s) => {
        s.tables.push(table('logins'));
        s.columns.push(column('logins', 'id', 'integer'));
      },
      expected: ['downgrade of c3d4e5f6a1b2 leaves table logins behind'],
    },
    {
      name: 'extra check constraint',
      edit: (s) =>
        s.constraints.push(
          fk({ name: 'users_name_check', table: 'users', type: 'check constraint', definition: 'CHECK ((name <> \'\'))', onDelete: null, onUpdate: null }),
        ),
      expected: ['downgrade of c3d4e5f6a1b2 leaves check constraint users_name_check on users behind'],
    },
    {
      name: 'extra function and trigger',
      edit: (s) => {
        s.routines.push({
          schema: 'public',
          name: 'touch',
          identityArguments: '',
          kind: 'function',
          arguments: '',
          returns: 'trigger',
          language: 'plpgsql',
          volatility: 'VOLATILE',
          strict: false,
          securityDefiner: false,
          config: [],
          bodyHash: 'abc',
          comment: null,
        });
        s.triggers.push({ schema: 'public', table: 'users', name: 'users_touch', definition: 'CREATE TRIGGER ...', enabled: 'ORIGIN', comment: null });
      },
      expected: [
        'downgrade of c3d4e5f6a1b2 leaves function touch() behind',
        'downgrade of c3d4e5f6a1b2 leaves trigger users_touch on users behind',
      ],
    },
    {
      name: 'missing after downgrade',
      edit: (s) => {
        s.enums = [];
        s.constraints = [];
      },
      expected: [
        'downgrade of c3d4e5f6a1b2 drops enum type ticket_status, which existed before the upgrade',
        'downgrade of c3d4e5f6a1b2 drops foreign key posts_user_id_fkey on posts, which existed before the upgrade',
      ],
    },
    {
      name: 'missing table: its columns and constraints are implied',
      edit: (s) => {
        s.tables = s.tables.filter((t) => t.name !== 'posts');
        s.columns = s.columns.filter((c) => c.table !== 'posts');
        s.constraints = [];
      },
      expected: ['downgrade of c3d4e5f6a1b2 drops table posts, which existed before the upgrade'],
    },
    {
      name: 'changed column type',
      edit: (s) => {
        s.columns.find((c) => c.name === 'name')!.type = 'character varying(100)';
      },
      expected: ['downgrade of c3d4e5f6a1b2: column users.name is varchar(100), was varchar(50)'],
    },
    {
      name: 'changed column type, re-upgrade phase',
      phase: 'reupgrade',
      edit: (s) => {
        s.columns.find((c) => c.name === 'name')!.type = 'character varying(100)';
      },
      expected: ['re-upgrade of c3d4e5f6a1b2: column users.name is varchar(100), was varchar(50)'],
    },
    {
      name: 'column became NOT NULL',
      edit: (s) => {
        s.columns.find((c) => c.name === 'email')!.notNull = true;
      },
      expected: ['downgrade of c3d4e5f6a1b2: column users.email is NOT NULL, was nullable'],
    },
    {
      name: 'column became nullable',
      edit: (s) => {
        s.columns.find((c) => c.table === 'users' && c.name === 'id')!.notNull = false;
      },
      expected: ['downgrade of c3d4e5f6a1b2: column users.id is nullable, was NOT NULL'],
    },
    {
      name: 'foreign key lost ON DELETE CASCADE (the definition is not reported twice)',
      edit: (s) => {
        s.constraints[0] = fk({ onDelete: 'NO ACTION', definition: 'FOREIGN KEY (user_id) REFERENCES users(id)' });
      },
      expected: ['downgrade of c3d4e5f6a1b2: foreign key posts_user_id_fkey lost ON DELETE CASCADE (on posts)'],
    },
    {
      name: 'foreign key gained ON UPDATE CASCADE',
      edit: (s) => {
        s.constraints[0] = fk({ onUpdate: 'CASCADE', definition: 'FOREIGN KEY ... ON UPDATE CASCADE ON DELETE CASCADE' });
      },
      expected: ['downgrade of c3d4e5f6a1b2: foreign key posts_user_id_fkey gained ON UPDATE CASCADE (on posts)'],
    },
    {
      name: 'foreign key changed ON DELETE action',
      edit: (s) => {
        s.constraints[0] = fk({ onDelete: 'SET NULL', definition: 'FOREIGN KEY ... ON DELETE SET NULL' });
      },
      expected: [
        'downgrade of c3d4e5f6a1b2: foreign key posts_user_id_fkey has ON DELETE SET NULL, was ON DELETE CASCADE (on posts)',
      ],
    },
    {
      name: 'enum labels',
      edit: (s) => {
        s.enums[0]!.labels = ['a', 'b'];
      },
      expected: ['downgrade of c3d4e5f6a1b2: enum type ticket_status labels are (a, b), were (a, b, c)'],
    },
    {
      name: 'default added',
      edit: (s) => {
        s.columns.find((c) => c.name === 'status')!.default = "'x'::text";
      },
      expected: ["downgrade of c3d4e5f6a1b2: column users.status default is 'x'::text, was none"],
    },
    {
      name: 're-upgrade creates something new',
      phase: 'reupgrade',
      edit: (s) => s.enums.push({ schema: 'public', name: 'priority', labels: [], comment: null }),
      expected: ['re-upgrade of c3d4e5f6a1b2 creates enum type priority that the first upgrade did not'],
    },
    {
      name: 're-upgrade does not recreate',
      phase: 'reupgrade',
      edit: (s) => {
        s.columns = s.columns.filter((c) => c.name !== 'email');
      },
      expected: ['re-upgrade of c3d4e5f6a1b2 does not recreate column users.email'],
    },
    {
      name: 'objects outside public are qualified',
      edit: (s) => {
        s.schemas.push({ name: 'audit', comment: null, acl: [] });
        s.tables.push(table('events', { schema: 'audit' }));
        s.columns.push(column('events', 'id', 'integer', { schema: 'audit' }));
        const e = s.columns.at(-1)!;
        s.columns.push({ ...e, name: 'at', type: 'timestamp without time zone' });
        return s;
      },
      expected: ['downgrade of c3d4e5f6a1b2 leaves schema audit behind'],
    },
    {
      name: 'table comment and row-level security',
      edit: (s) => {
        s.tables[0] = table('users', { comment: 'people', rowSecurity: true });
      },
      expected: [
        'downgrade of c3d4e5f6a1b2: table users has row-level security enabled, was disabled',
        "downgrade of c3d4e5f6a1b2: table users comment is 'people', was none",
      ],
    },
  ];

  it.each(cases)('$name', ({ edit, phase, expected }) => {
    expect(describeEdit(edit, phase)).toEqual(expected);
  });

  it('qualifies names outside public, in columns and tables alike', () => {
    const before = base();
    before.schemas.push({ name: 'audit', comment: null, acl: [] });
    before.tables.push(table('events', { schema: 'audit' }));
    const after = structuredClone(before);
    after.columns.push(column('events', 'payload', 'jsonb', { schema: 'audit' }));
    after.columns.push(column('events', 'at', 'timestamp(3) with time zone', { schema: 'audit' }));
    const out = diffSnapshots(before, after).map((d) => describeDifference(d, { phase: 'downgrade', revision: REV }));
    expect(out).toEqual([
      'downgrade of c3d4e5f6a1b2 leaves column audit.events.at behind',
      'downgrade of c3d4e5f6a1b2 leaves column audit.events.payload behind',
    ]);
    const d = diffSnapshots(before, after)[0]!;
    expect(d).toEqual({ kind: 'extra', objectType: 'column', name: 'at', table: 'audit.events' });
    // Short type names in changed-type messages.
    const changed = structuredClone(after);
    changed.columns.find((c) => c.name === 'at')!.type = 'timestamp without time zone';
    expect(
      diffSnapshots(after, changed).map((x) => describeDifference(x, { phase: 'reupgrade', revision: REV })),
    ).toEqual(['re-upgrade of c3d4e5f6a1b2: column audit.events.at is timestamp, was timestamptz(3)']);
  });
});

describe('diffSnapshots', () => {
  it('returns structured differences with expected and actual values', () => {
    const after = edited((s) => {
      s.columns.find((c) => c.name === 'name')!.type = 'character varying(100)';
      s.columns.find((c) => c.name === 'email')!.notNull = true;
    });
    expect(diffSnapshots(base(), after)).toEqual<SchemaDifference[]>([
      {
        kind: 'changed',
        objectType: 'column',
        name: 'email',
        table: 'users',
        field: 'notNull',
        expected: 'false',
        actual: 'true',
      },
      {
        kind: 'changed',
        objectType: 'column',
        name: 'name',
        table: 'users',
        field: 'type',
        expected: 'character varying(50)',
        actual: 'character varying(100)',
      },
    ]);
  });

  it('ignores column position, list order, key order and privilege order', () => {
    const shuffled = base();
    shuffled.columns.reverse();
    shuffled.columns.forEach((c, i) => (c.position = 100 - i));
    shuffled.tables.reverse();
    shuffled.schemas[0]!.acl = ['=U/postgres'];
    const reordered = { ...shuffled, enums: shuffled.enums.map((e) => ({ labels: e.labels, comment: e.comment, name: e.name, schema: e.schema })) };
    expect(diffSnapshots(base(), reordered)).toEqual([]);
    expect(snapshotsEqual(base(), reordered)).toBe(true);

    const acls = base();
    acls.tables[0]!.acl = ['b=r/postgres', 'a=r/postgres'];
    const acls2 = base();
    acls2.tables[0]!.acl = ['a=r/postgres', 'b=r/postgres'];
    expect(diffSnapshots(acls, acls2)).toEqual([]);
    expect(snapshotsEqual(acls, acls2)).toBe(true);
  });

  it('keeps enum label order significant', () => {
    const after = edited((s) => {
      s.enums[0]!.labels = ['c', 'b', 'a'];
    });
    expect(snapshotsEqual(base(), after)).toBe(false);
    expect(diffSnapshots(base(), after)).toHaveLength(1);
  });

  it('orders differences by kind, then identity, whatever the input order', () => {
    const after = edited((s) => {
      s.columns.push(column('users', 'zeta', 'text'), column('posts', 'alpha', 'text'));
      s.enums.push({ schema: 'public', name: 'aaa', labels: [], comment: null });
      s.tables.push(table('zzz'));
    });
    const names = diffSnapshots(base(), after).map((d) => `${d.objectType}:${d.table ? `${d.table}.` : ''}${d.name}`);
    expect(names).toEqual(['enum type:aaa', 'table:zzz', 'column:posts.alpha', 'column:users.zeta']);
    const reversed = structuredClone(after);
    reversed.columns.reverse();
    reversed.enums.reverse();
    reversed.tables.reverse();
    expect(diffSnapshots(base(), reversed)).toEqual(diffSnapshots(base(), after));
  });

  it('stays fast on 1000-table schemas (no quadratic matching)', () => {
    const big = (n: number, change: boolean): Snapshot => {
      const s = emptySnapshot();
      for (let i = 0; i < n; i++) {
        s.tables.push(table(`t${i}`));
        for (let j = 0; j < 6; j++) s.columns.push(column(`t${i}`, `c${j}`, change && i === n - 1 && j === 0 ? 'text' : 'integer'));
        s.constraints.push(fk({ table: `t${i}`, name: `t${i}_fkey` }));
      }
      return s;
    };
    const a = big(1000, false);
    const b = big(1000, true);
    const t0 = performance.now();
    const d = diffSnapshots(a, b);
    const ms = performance.now() - t0;
    expect(d.map((x) => `${x.table}.${x.name} ${x.field}`)).toEqual(['t999.c0 type']);
    // Generous bound: a quadratic diff takes seconds here (7000 x 7000 pairs).
    expect(ms).toBeLessThan(1000);
    expect(snapshotsEqual(a, b)).toBe(false);
    expect(snapshotsEqual(a, big(1000, false))).toBe(true);
  });
});

describe('normalizeSnapshot and snapshotsEqual', () => {
  it('sorts every list by identity without changing the input', () => {
    const s = base();
    const copy = structuredClone(s);
    const n = normalizeSnapshot(s);
    expect(s).toEqual(copy);
    expect(n.tables.map((t) => t.name)).toEqual(['posts', 'users']);
    expect(n.columns.map((c) => `${c.table}.${c.name}`)).toEqual([
      'posts.id',
      'posts.user_id',
      'users.email',
      'users.id',
      'users.name',
      'users.status',
    ]);
    expect(normalizeSnapshot(n)).toEqual(n);
    expect(JSON.parse(JSON.stringify(n))).toEqual(n);
  });

  it('detects a change in any field, and ignores position only', () => {
    const a = base();
    expect(snapshotsEqual(a, base())).toBe(true);
    expect(snapshotsEqual(a, edited((s) => (s.columns[0]!.position = 42)))).toBe(true);
    expect(snapshotsEqual(a, edited((s) => (s.constraints[0]!.onDelete = 'NO ACTION')))).toBe(false);
    expect(snapshotsEqual(a, edited((s) => (s.tables[0]!.comment = 'x')))).toBe(false);
  });
});
