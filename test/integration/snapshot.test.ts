// Snapshots read from a real PostgreSQL (127.0.0.1:5432, trust auth). One throwaway database
// per file; no other database is touched.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeDifference,
  diffSnapshots,
  snapshotsEqual,
  type Snapshot,
} from '../../src/snapshot/index.js';
import { takeSnapshot } from '../../src/engines/postgresql/read.js';
import { EXECUTE_SQL } from '../../src/engines/postgresql/queries.js';

const server = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const dbName = `ag_snap_${randomBytes(5).toString('hex')}`;
let admin: pg.Client;
let client: pg.Client;

const exec = async (sql: string): Promise<void> => {
  await client.query(sql);
};
const lines = (expected: Snapshot, actual: Snapshot, phase: 'downgrade' | 'reupgrade' = 'downgrade'): string[] =>
  diffSnapshots(expected, actual).map((d) => describeDifference(d, { phase, revision: 'c3d4e5f6a1b2' }));

beforeAll(async () => {
  admin = new pg.Client({ ...server, database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  client = new pg.Client({ ...server, database: dbName });
  await client.connect();
  await exec(`
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN positive_int AS integer NOT NULL DEFAULT 1 CONSTRAINT positive CHECK (VALUE > 0);
    CREATE TYPE money_pair AS (amount numeric(12,2), currency char(3));
    CREATE TABLE users (
      id serial PRIMARY KEY,
      email varchar(200),
      name varchar(50) NOT NULL,
      mood mood,
      score positive_int,
      CONSTRAINT users_name_nonempty CHECK (name <> '')
    );
    CREATE TABLE posts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id integer NOT NULL,
      title text NOT NULL DEFAULT 'untitled',
      title_len integer GENERATED ALWAYS AS (length(title)) STORED,
      CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
    );
    CREATE INDEX ix_posts_title ON posts (lower(title)) WHERE title <> 'untitled';
    CREATE SEQUENCE invoice_numbers AS integer START 1000 INCREMENT 5;
    CREATE VIEW active_users AS SELECT id, email FROM users WHERE mood <> 'sad';
    CREATE MATERIALIZED VIEW post_counts AS SELECT user_id, count(*) AS n FROM posts GROUP BY user_id;
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();
    CREATE PROCEDURE noop(n integer) LANGUAGE sql AS $$ SELECT 1 $$;
    ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own_posts ON posts FOR SELECT TO PUBLIC USING (user_id > 0);
    COMMENT ON TABLE users IS 'people';
    COMMENT ON COLUMN users.email IS 'login';
    GRANT SELECT ON users TO PUBLIC;
    CREATE TABLE measurements (at date NOT NULL, value numeric) PARTITION BY RANGE (at);
    CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE INDEX ix_measurements_at ON measurements (at);
    CREATE SCHEMA audit;
    CREATE TABLE audit.events (id int PRIMARY KEY, payload jsonb);
  `);
});

afterAll(async () => {
  await client?.end();
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
});

describe('takeSnapshot', () => {
  it('reads the object kinds from the catalogs', async () => {
    const s = await takeSnapshot(client);
    expect(s.schemas.map((x) => x.name)).toEqual(['audit', 'public']);
    expect(s.enums).toEqual([{ schema: 'public', name: 'mood', labels: ['sad', 'ok', 'happy'], comment: null }]);
    expect(s.domains[0]).toMatchObject({ name: 'positive_int', baseType: 'integer', notNull: true, default: '1' });
    expect(s.domains[0]!.checks).toEqual(['positive: CHECK ((VALUE > 0))']);
    expect(s.compositeTypes[0]!.attributes).toEqual(['amount numeric(12,2)', 'currency character(3)']);

    const users = s.tables.find((t) => t.name === 'users')!;
    expect(users.comment).toBe('people');
    expect(users.acl).toContain('=r/postgres');
    expect(s.tables.find((t) => t.name === 'posts')).toMatchObject({ rowSecurity: true, forceRowSecurity: false });
    expect(s.tables.find((t) => t.name === 'measurements')).toMatchObject({
      kind: 'partitioned table',
      partitionKey: 'RANGE (at)',
    });
    expect(s.tables.find((t) => t.name === 'measurements_2024')).toMatchObject({
      kind: 'table',
      partitionOf: 'measurements',
      partitionBound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    });
    expect(s.tables.find((t) => t.schema === 'audit')!.name).toBe('events');

    const col = (table: string, name: string) => s.columns.find((c) => c.table === table && c.name === name)!;
    expect(col('users', 'email')).toMatchObject({ type: 'character varying(200)', notNull: false, comment: 'login' });
    expect(col('users', 'id').default).toBe("nextval('users_id_seq'::regclass)");
    expect(col('posts', 'id')).toMatchObject({ identity: 'ALWAYS', default: null });
    expect(col('posts', 'title_len')).toMatchObject({ generated: 'length(title)', default: null });
    expect(col('posts', 'title').default).toBe("'untitled'::text");
    // Partitions inherit their columns: reported once, on the parent.
    expect(s.columns.filter((c) => c.table === 'measurements_2024')).toEqual([]);

    const fk = s.constraints.find((c) => c.name === 'posts_user_id_fkey')!;
    expect(fk).toMatchObject({ type: 'foreign key', onDelete: 'CASCADE', onUpdate: 'NO ACTION', validated: true });
    expect(fk.definition).toContain('ON DELETE CASCADE');
    expect(s.constraints.find((c) => c.name === 'users_name_nonempty')!.type).toBe('check constraint');
    expect(s.constraints.find((c) => c.name === 'users_pkey')!.type).toBe('primary key');

    // Constraint-backed indexes are left to their constraint; partition child indexes to the parent.
    expect(s.indexes.map((i) => i.name)).toEqual(['ix_measurements_at', 'ix_posts_title']);
    expect(s.indexes[1]!.predicate).toBe("(title <> 'untitled'::text)");

    const seqs = Object.fromEntries(s.sequences.map((q) => [q.name, q]));
    expect(seqs['invoice_numbers']).toMatchObject({ type: 'integer', start: '1000', increment: '5', ownedBy: null });
    expect(seqs['users_id_seq']!.ownedBy).toBe('users.id');
    expect(seqs['posts_id_seq']).toBeUndefined(); // identity sequence: part of posts.id

    expect(s.views.map((v) => [v.name, v.materialized])).toEqual([
      ['active_users', false],
      ['post_counts', true],
    ]);
    expect(s.views[0]!.definition).not.toMatch(/\s{2}|\n/);
    expect(s.routines.map((r) => `${r.kind} ${r.name}(${r.identityArguments})`)).toEqual([
      'procedure noop(IN n integer)',
      'function touch()',
    ]);
    expect(s.triggers.map((t) => `${t.table}.${t.name}`)).toEqual(['posts.posts_touch']);
    expect(s.policies[0]).toMatchObject({ name: 'own_posts', command: 'SELECT', roles: ['PUBLIC'], permissive: true });

    // Deterministic and JSON-safe.
    const again = await takeSnapshot(client);
    expect(snapshotsEqual(s, again)).toBe(true);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('names what a downgrade leaves behind', async () => {
    const before = await takeSnapshot(client);
    await exec(`
      CREATE TYPE ticket_status AS ENUM ('open', 'closed');
      CREATE INDEX ix_users_email ON users (email);
      ALTER TABLE users ADD COLUMN nickname text;
      CREATE TABLE audit.logins (id int);
      CREATE SEQUENCE audit.login_ids;
      ALTER TABLE posts ADD CONSTRAINT posts_title_short CHECK (length(title) < 500);
    `);
    const after = await takeSnapshot(client);
    expect(snapshotsEqual(before, after)).toBe(false);
    const out = lines(before, after);
    expect(out).toEqual(
      expect.arrayContaining([
        'downgrade of c3d4e5f6a1b2 leaves enum type ticket_status behind',
        'downgrade of c3d4e5f6a1b2 leaves index ix_users_email on users behind',
        'downgrade of c3d4e5f6a1b2 leaves column users.nickname behind',
        'downgrade of c3d4e5f6a1b2 leaves table audit.logins behind',
        'downgrade of c3d4e5f6a1b2 leaves sequence audit.login_ids behind',
        'downgrade of c3d4e5f6a1b2 leaves check constraint posts_title_short on posts behind',
      ]),
    );
    // The new table's column is implied by the table, not listed again.
    expect(out).toHaveLength(6);
    // The same change read the other way: a re-upgrade that does not recreate them.
    expect(lines(after, before, 'reupgrade')).toContain('re-upgrade of c3d4e5f6a1b2 does not recreate enum type ticket_status');
    expect(lines(after, before)).toContain(
      'downgrade of c3d4e5f6a1b2 drops index ix_users_email on users, which existed before the upgrade',
    );
  });

  it('names changed columns, foreign keys, enums and defaults', async () => {
    const before = await takeSnapshot(client);
    await exec(`
      ALTER TABLE users ALTER COLUMN name TYPE varchar(100);
      ALTER TABLE users ALTER COLUMN email SET NOT NULL;
      ALTER TABLE users ADD COLUMN status text;
    `);
    const mid = await takeSnapshot(client);
    await exec(`
      ALTER TABLE users ALTER COLUMN status SET DEFAULT 'x';
      ALTER TABLE posts DROP CONSTRAINT posts_user_id_fkey;
      ALTER TABLE posts ADD CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON UPDATE CASCADE;
      ALTER TYPE ticket_status ADD VALUE 'blocked';
      CREATE OR REPLACE VIEW active_users AS SELECT id, email FROM users WHERE mood <> 'ok';
      CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.title := 'x'; RETURN NEW; END $$;
      ALTER TABLE users DISABLE ROW LEVEL SECURITY;
      ALTER TABLE users ENABLE ROW LEVEL SECURITY;
    `);
    const after = await takeSnapshot(client);

    const first = lines(before, mid);
    expect(first).toContain('downgrade of c3d4e5f6a1b2: column users.name is varchar(100), was varchar(50)');
    expect(first).toContain('downgrade of c3d4e5f6a1b2: column users.email is NOT NULL, was nullable');

    const second = lines(mid, after, 'reupgrade');
    expect(second).toEqual([
      're-upgrade of c3d4e5f6a1b2: enum type ticket_status labels are (open, closed, blocked), were (open, closed)',
      're-upgrade of c3d4e5f6a1b2: table users has row-level security enabled, was disabled',
      "re-upgrade of c3d4e5f6a1b2: column users.status default is 'x'::text, was none",
      're-upgrade of c3d4e5f6a1b2: foreign key posts_user_id_fkey lost ON DELETE CASCADE (on posts)',
      're-upgrade of c3d4e5f6a1b2: foreign key posts_user_id_fkey gained ON UPDATE CASCADE (on posts)',
      expect.stringMatching(/^re-upgrade of c3d4e5f6a1b2: view active_users definition is .*'ok'.*, was .*'sad'/),
      're-upgrade of c3d4e5f6a1b2: function touch() body differs',
    ]);
  });

  it('treats grant-then-revoke as no change and reports comments and grants', async () => {
    const before = await takeSnapshot(client);
    await exec(`GRANT INSERT ON posts TO PUBLIC; REVOKE INSERT ON posts FROM PUBLIC;`);
    expect(diffSnapshots(before, await takeSnapshot(client))).toEqual([]);

    await exec(`GRANT UPDATE ON invoice_numbers TO PUBLIC; COMMENT ON TYPE mood IS 'feelings';`);
    const out = lines(before, await takeSnapshot(client));
    expect(out).toEqual([
      "downgrade of c3d4e5f6a1b2: enum type mood comment is 'feelings', was none",
      'downgrade of c3d4e5f6a1b2: sequence invoice_numbers privileges are (=w/postgres, postgres=rwU/postgres), were (postgres=rwU/postgres)',
    ]);
  });

  it('leaves out alembic_version and objects owned by extensions', async () => {
    await exec(`
      CREATE TABLE alembic_version (version_num varchar(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
      CREATE TABLE audit.alembic_version (version_num varchar(32) PRIMARY KEY);
      CREATE INDEX ix_alembic_version_extra ON alembic_version (version_num);
    `);
    const available = await client.query<{ name: string }>(
      `SELECT name FROM pg_available_extensions WHERE name IN ('pgcrypto', 'citext') ORDER BY name`,
    );
    const extensions = available.rows.map((r) => r.name);
    const before = await takeSnapshot(client);
    for (const ext of extensions) await exec(`CREATE EXTENSION IF NOT EXISTS ${ext}`);
    if (extensions.length === 0) console.log('skipping extension exclusion: neither pgcrypto nor citext is available');
    const s = await takeSnapshot(client);

    const everything = JSON.stringify(s);
    expect(everything).not.toContain('alembic_version');
    expect(s.routines.map((r) => r.name)).toEqual(['noop', 'touch']);
    expect(s.extensions.map((e) => e.name)).toEqual(expect.arrayContaining([...extensions, 'plpgsql']));
    // Installing an extension is one difference, not one per function it brings.
    expect(lines(before, s)).toEqual(extensions.map((e) => `downgrade of c3d4e5f6a1b2 leaves extension ${e} behind`));
    if (extensions.includes('citext')) {
      await exec(`CREATE TABLE tags (name citext)`);
      const withTags = await takeSnapshot(client);
      expect(withTags.columns.find((c) => c.table === 'tags')!.type).toBe('citext');
    }
  });

  it('survives DISCARD ALL and a second client on the same database', async () => {
    const before = await takeSnapshot(client);
    await exec('DISCARD ALL'); // drops our prepared statements
    expect(snapshotsEqual(before, await takeSnapshot(client))).toBe(true);
    const other = new pg.Client({ ...server, database: dbName });
    await other.connect();
    try {
      expect(diffSnapshots(before, await takeSnapshot(other))).toEqual([]);
    } finally {
      await other.end();
    }
  });

  it('snapshots a 200-table schema in one round trip (timing printed)', async () => {
    const ddl: string[] = ['CREATE SCHEMA bench;'];
    for (let i = 0; i < 200; i++) {
      ddl.push(`CREATE TABLE bench.t${i} (
        id serial PRIMARY KEY, name varchar(100) NOT NULL DEFAULT '', created_at timestamptz DEFAULT now(),
        parent_id integer ${i > 0 ? `REFERENCES bench.t${i - 1} (id) ON DELETE CASCADE` : ''},
        amount numeric(10,2) CHECK (amount >= 0), flag boolean NOT NULL DEFAULT false);
        CREATE INDEX ix_t${i}_name ON bench.t${i} (name);
        COMMENT ON TABLE bench.t${i} IS 'bench table ${i}';`);
    }
    await exec(ddl.join('\n'));
    // Warm the catalog caches; the schema grew, so the second call also replans (read.ts).
    await takeSnapshot(client);
    await takeSnapshot(client);
    const times: number[] = [];
    let s: Snapshot | undefined;
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      s = await takeSnapshot(client);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    // The catalog queries alone (already prepared by the calls above), without row handling.
    const queryTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await client.query(EXECUTE_SQL);
      queryTimes.push(performance.now() - t0);
    }
    queryTimes.sort((a, b) => a - b);
    const t0 = performance.now();
    const diff = diffSnapshots(s!, s!);
    const diffMs = performance.now() - t0;
    console.log(
      `snapshot of ${s!.tables.length} tables, ${s!.columns.length} columns, ${s!.constraints.length} constraints, ` +
        `${s!.indexes.length} indexes: median ${times[10]!.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms, ` +
        `max ${times[19]!.toFixed(1)} ms (queries alone: median ${queryTimes[10]!.toFixed(1)} ms); ` +
        `diff ${diffMs.toFixed(1)} ms`,
    );
    expect(diff).toEqual([]);
    expect(s!.tables.filter((t) => t.schema === 'bench')).toHaveLength(200);
  });
});
