// Incremental snapshots (src/engines/postgresql/tracker.ts) against whole reads, on a real PostgreSQL.
// Every change runs on a session of its own, the way a migration runs in the Python worker's
// session; after each, the tracked state must equal a whole read of the database, and the
// read must have been incremental where the design says it is.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDifference, diffSnapshots } from '../../src/snapshot/index.js';
import { takeSnapshot } from '../../src/engines/postgresql/read.js';
import { INTERNAL_SCHEMA } from '../../src/engines/postgresql/queries.js';
import { SchemaTracker } from '../../src/engines/postgresql/tracker.js';

const server = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const dbName = `ag_track_${randomBytes(5).toString('hex')}`;
let admin: pg.Client;
let reader: pg.Client; // the tracker's session
let checker: pg.Client; // whole reads, on a session of their own
let tracker: SchemaTracker;

/** Runs `sql` on a fresh session, as a migration step would. */
async function migrate(sql: string): Promise<void> {
  const c = new pg.Client({ ...server, database: dbName });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The differences between the tracked state and a whole read, as a user would read them. */
async function drift(): Promise<string[]> {
  const tracked = (await tracker.read()).snapshot();
  const whole = await takeSnapshot(checker);
  return diffSnapshots(whole, tracked).map((d) => describeDifference(d, { phase: 'downgrade', revision: 'tracker' }));
}

beforeAll(async () => {
  admin = new pg.Client({ ...server, database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await migrate(`
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN positive_int AS integer DEFAULT 1 CONSTRAINT positive CHECK (VALUE > 0);
    CREATE TYPE money_pair AS (amount numeric(12,2), currency char(3));
    CREATE TABLE users (
      id serial PRIMARY KEY,
      email varchar(200),
      name varchar(50) NOT NULL,
      mood mood DEFAULT 'ok',
      score positive_int,
      CONSTRAINT users_name_nonempty CHECK (name <> '')
    );
    CREATE TABLE posts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id integer NOT NULL,
      title text NOT NULL DEFAULT 'untitled',
      CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
    );
    CREATE INDEX ix_posts_title ON posts (lower(title)) WHERE title <> 'untitled';
    CREATE SEQUENCE invoice_numbers AS integer START 1000 INCREMENT 5;
    CREATE VIEW active_users AS SELECT id, email FROM users WHERE mood <> 'sad';
    CREATE MATERIALIZED VIEW post_counts AS SELECT user_id, count(*) AS n FROM posts GROUP BY user_id;
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();
    ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own_posts ON posts FOR SELECT TO PUBLIC USING (user_id > 0);
    CREATE TABLE measurements (at date NOT NULL, value numeric) PARTITION BY RANGE (at);
    CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE SCHEMA audit;
    CREATE TABLE audit.events (id int PRIMARY KEY, payload jsonb);
  `);
  reader = new pg.Client({ ...server, database: dbName });
  await reader.connect();
  checker = new pg.Client({ ...server, database: dbName });
  await checker.connect();
  tracker = await SchemaTracker.attach(reader);
  await tracker.read();
});

afterAll(async () => {
  await tracker?.detach();
  await reader?.end();
  await checker?.end();
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
});

// In order: each builds on the schema the ones before left.
const changes: Array<[string, string, 'incremental' | 'whole']> = [
  ['rename a column a view and an index use', 'ALTER TABLE users RENAME COLUMN email TO mail', 'incremental'],
  ['rename a table other tables reference', 'ALTER TABLE users RENAME TO people', 'incremental'],
  ['rename an enum used in columns, defaults and a view', 'ALTER TYPE mood RENAME TO feeling', 'incremental'],
  ['add an enum value', "ALTER TYPE feeling ADD VALUE 'meh'", 'incremental'],
  ['rename an enum value a default and a view name', "ALTER TYPE feeling RENAME VALUE 'ok' TO 'fine'", 'incremental'],
  ['create an index', 'CREATE INDEX ix_people_mail ON people (mail)', 'incremental'],
  ['drop an index', 'DROP INDEX ix_people_mail', 'incremental'],
  ['rename an index', 'ALTER INDEX ix_posts_title RENAME TO ix_posts_title_lower', 'incremental'],
  ['comment on an index', "COMMENT ON INDEX ix_posts_title_lower IS 'search'", 'incremental'],
  ['add a check constraint', "ALTER TABLE posts ADD CONSTRAINT posts_title_check CHECK (title <> '')", 'incremental'],
  ['rename a constraint', 'ALTER TABLE posts RENAME CONSTRAINT posts_title_check TO posts_title_nonempty', 'incremental'],
  ['drop a constraint', 'ALTER TABLE posts DROP CONSTRAINT posts_title_nonempty', 'incremental'],
  ['change a default', "ALTER TABLE posts ALTER COLUMN title SET DEFAULT 'none'", 'incremental'],
  ['drop a default', 'ALTER TABLE posts ALTER COLUMN title DROP DEFAULT', 'incremental'],
  ['rename a function a trigger calls', 'ALTER FUNCTION touch() RENAME TO touch_row', 'incremental'],
  ['drop a trigger', 'DROP TRIGGER posts_touch ON posts', 'incremental'],
  ['drop a policy', 'DROP POLICY own_posts ON posts', 'incremental'],
  ['create a policy', 'CREATE POLICY mine ON posts FOR UPDATE USING (user_id = 1)', 'incremental'],
  ['alter a sequence', 'ALTER SEQUENCE invoice_numbers INCREMENT 10 CACHE 3', 'incremental'],
  ['rename a sequence a default calls', 'ALTER SEQUENCE users_id_seq RENAME TO people_id_seq', 'incremental'],
  ['own a sequence by a column', 'ALTER SEQUENCE invoice_numbers OWNED BY people.id', 'incremental'],
  ['detach a partition', 'ALTER TABLE measurements DETACH PARTITION measurements_2024', 'incremental'],
  ['attach a partition', "ALTER TABLE measurements ATTACH PARTITION measurements_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", 'incremental'],
  ['rename a domain used by a column', 'ALTER DOMAIN positive_int RENAME TO pos_int', 'incremental'],
  ['replace a domain constraint', 'ALTER DOMAIN pos_int DROP CONSTRAINT positive; ALTER DOMAIN pos_int ADD CONSTRAINT positive CHECK (VALUE >= 1)', 'incremental'],
  ['an array of an enum, then rename the enum', 'CREATE TABLE tags (id int, moods feeling[]); ALTER TYPE feeling RENAME TO mood', 'incremental'],
  ['rename a composite attribute used by a table', 'CREATE TABLE wallets (p money_pair); ALTER TYPE money_pair RENAME ATTRIBUTE currency TO cur', 'incremental'],
  ['drop a domain with CASCADE', 'DROP DOMAIN pos_int CASCADE', 'incremental'],
  ['change a column type an index uses (the index is rebuilt)', 'ALTER TABLE posts ALTER COLUMN title TYPE varchar(300)', 'incremental'],
  ['rename a materialized view column', 'ALTER MATERIALIZED VIEW post_counts RENAME COLUMN n TO total', 'incremental'],
  ['replace a function body and settings', "CREATE OR REPLACE FUNCTION touch_row() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$ BEGIN NEW.title := NEW.title; RETURN NEW; END $$", 'incremental'],
  ['comments on many kinds', "COMMENT ON COLUMN people.mail IS 'login'; COMMENT ON CONSTRAINT users_pkey ON people IS 'pk'; COMMENT ON TYPE mood IS 'how'; COMMENT ON FUNCTION touch_row() IS 'f'; COMMENT ON POLICY mine ON posts IS 'p'", 'incremental'],
  ['DDL inside a DO block', "DO $$ BEGIN EXECUTE 'CREATE TABLE made_in_do (id int PRIMARY KEY)'; END $$", 'incremental'],
  ['DDL with session_replication_role = replica', 'SET session_replication_role = replica; ALTER TABLE made_in_do ADD COLUMN note text', 'incremental'],
  ['move a table to another schema', 'ALTER TABLE made_in_do SET SCHEMA audit', 'incremental'],
  ['a view on a view, then drop the base with CASCADE', 'CREATE VIEW fine_users AS SELECT id FROM active_users; DROP VIEW active_users CASCADE', 'incremental'],
  ['create and drop a schema with tables', 'CREATE SCHEMA scratch; CREATE TABLE scratch.t (id int); DROP SCHEMA scratch CASCADE', 'incremental'],
  ['disable row level security', 'ALTER TABLE posts DISABLE ROW LEVEL SECURITY', 'incremental'],
  ['drop a table others reference, with CASCADE', 'DROP TABLE people CASCADE', 'incremental'],
  ['grant (no object reported: a whole read)', 'GRANT SELECT ON posts TO PUBLIC', 'whole'],
  ['rename a schema (a whole read)', 'ALTER SCHEMA audit RENAME TO audit_log', 'whole'],
];

describe('SchemaTracker', () => {
  it('installs its triggers and keeps its own schema out of snapshots', async () => {
    expect(tracker.incremental).toBe(true);
    const s = (await tracker.read()).snapshot();
    expect(s.schemas.map((x) => x.name)).not.toContain(INTERNAL_SCHEMA);
    expect(s.routines.map((x) => x.schema)).not.toContain(INTERNAL_SCHEMA);
  });

  it.each(changes)('%s: the tracked state equals a whole read', async (_what, sql, how) => {
    await migrate(sql);
    expect(await drift()).toEqual([]);
    expect(tracker.lastRead).toBe(how);
  });

  it('CREATE INDEX CONCURRENTLY, outside a transaction', async () => {
    await migrate('CREATE UNIQUE INDEX CONCURRENTLY ix_tags_id ON tags (id)');
    expect(await drift()).toEqual([]);
    expect(tracker.lastRead).toBe('incremental');
  });

  it('a rolled-back migration reports nothing and changes nothing', async () => {
    const before = await tracker.read();
    await migrate('BEGIN; CREATE TABLE never (id int); ALTER TABLE posts ADD COLUMN ghost int; ROLLBACK');
    const after = await tracker.read();
    expect(tracker.lastRead).toBe('unchanged');
    expect(after.equals(before)).toBe(true);
    expect(await drift()).toEqual([]);
  });

  it('equal schemas compare equal even when every object was re-created (new oids)', async () => {
    const before = await tracker.read();
    await migrate('DROP TABLE tags');
    const without = await tracker.read();
    expect(without.equals(before)).toBe(false);
    await migrate('CREATE TABLE tags (id int, moods mood[]); CREATE UNIQUE INDEX ix_tags_id ON tags (id)');
    expect((await tracker.read()).equals(before)).toBe(true);
  });

  it('a direct catalog write is invisible to the triggers, and verify() says so', async () => {
    await tracker.read();
    await migrate("UPDATE pg_catalog.pg_description SET description = 'edited behind our back' WHERE objoid = 'mood'::regtype");
    await tracker.read();
    expect(tracker.lastRead).toBe('unchanged');
    expect(await tracker.verify()).toBe(false);
    // verify() re-reads everything: the tracker is faithful again.
    expect(await drift()).toEqual([]);
  });

  it('markStale() makes the next read a whole one', async () => {
    await migrate("UPDATE pg_catalog.pg_description SET description = 'again' WHERE objoid = 'mood'::regtype");
    tracker.markStale();
    expect(await drift()).toEqual([]);
    expect(tracker.lastRead).toBe('whole');
  });

  it('triggers dropped by a migration are put back, and that read is whole', async () => {
    await migrate('DROP EVENT TRIGGER alembic_gate_ddl_end; ALTER TABLE posts ADD COLUMN after_drop int');
    expect(await drift()).toEqual([]);
    expect(tracker.lastRead).toBe('whole');
    await migrate('ALTER TABLE posts DROP COLUMN after_drop');
    expect(await drift()).toEqual([]);
    expect(tracker.lastRead).toBe('incremental');
  });

  it('detach() leaves no trace in the database', async () => {
    const other = new pg.Client({ ...server, database: dbName });
    await other.connect();
    try {
      const t = await SchemaTracker.attach(other);
      await t.read();
      await t.detach();
      const left = await other.query(
        `SELECT (SELECT count(*) FROM pg_event_trigger)::int AS triggers, (SELECT count(*) FROM pg_namespace WHERE nspname = '${INTERNAL_SCHEMA}')::int AS schemas`,
      );
      expect(left.rows[0]).toEqual({ triggers: 0, schemas: 0 });
    } finally {
      await other.end();
      // put the shared tracker's triggers back for any later test
      await tracker.read();
    }
  });
});
