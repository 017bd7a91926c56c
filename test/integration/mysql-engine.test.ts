// The MySQL/MariaDB engine (src/engines/mysql/) against real servers: a throwaway server from
// the machine's binaries (local) and a database on the machine's own server (url,
// ALEMBIC_GATE_TEST_MYSQL_URL, default mysql://root@127.0.0.1:3306/). A schema with every
// feature the snapshot reads is made twice, two ways, by the migration user, and the two reads
// compare equal; changes to it read as the walk's messages say them; dispose, SIGTERM and
// SIGKILL leave no process, directory, database or user. No mocks.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../../src/alembic/tree.js';
import { diffSnapshots } from '../../src/snapshot/diff.js';
import { describeDifference } from '../../src/snapshot/describe.js';
import type { Snapshot } from '../../src/snapshot/model.js';
import { pendingCleanups } from '../../src/util/cleanup.js';
import { runningSync } from '../../src/util/run-as.js';
import { connect, rows, withConnection, type MysqlConnection } from '../../src/engines/mysql/client.js';
import { mysqlEngine, providerOrder, provisionMysql } from '../../src/engines/mysql/engine.js';
import { mysqlHint } from '../../src/engines/mysql/hints.js';
import { normalizeDefault, unqualified, unwrap } from '../../src/engines/mysql/read.js';
import type { MysqlServer } from '../../src/engines/mysql/server.js';
import { parseMysqlUrl, redactUrl } from '../../src/engines/mysql/url.js';

const SERVER_URL = process.env.ALEMBIC_GATE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';
const SERVER_ADMIN: MysqlConnection = parseMysqlUrl(SERVER_URL).admin;
const repoRoot = join(import.meta.dirname, '..', '..');

async function databasesOnServer(names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  return withConnection(SERVER_ADMIN, async (c) =>
    (await rows<{ n: string }>(c, `SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (${names.map(() => '?').join(', ')})`, names)).map((r) => r.n),
  );
}
async function usersOnServer(user: string): Promise<string[]> {
  return withConnection(SERVER_ADMIN, async (c) => (await rows<{ h: string }>(c, 'SELECT Host AS h FROM mysql.user WHERE User = ?', [user])).map((r) => r.h));
}

async function until(what: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return what();
}

/** Runs statements as the project's code would: as the target's user, over TCP. */
async function asProject(target: DatabaseTarget, statements: string[]): Promise<void> {
  const { host, port, user, password, database } = target.twin;
  const c = await connect({ host, port, user, ...(password ? { password } : {}) }, database);
  try {
    for (const sql of statements) await c.query(sql);
  } finally {
    await c.end();
  }
}

async function snapshotOf(server: MysqlServer, database: string): Promise<{ snapshot: Snapshot; state: Awaited<ReturnType<Awaited<ReturnType<MysqlServer['session']>>['read']>> }> {
  const session = await server.session(database, { incremental: false });
  try {
    const state = await session.read();
    return { snapshot: state.snapshot(), state };
  } finally {
    await session.close();
  }
}

const messages = (expected: Snapshot, actual: Snapshot): string[] =>
  diffSnapshots(expected, actual, { defaultSchema: 'db' }).map((d) => describeDifference(d, { phase: 'downgrade', revision: 'r1' }));

// Every feature the snapshot reads, written once in one CREATE TABLE each...
const ONE_WAY = [
  'CREATE TABLE parent (id INT NOT NULL AUTO_INCREMENT, code VARCHAR(20) NOT NULL, PRIMARY KEY (id), UNIQUE KEY uq_parent_code (code)) ENGINE=InnoDB',
  `CREATE TABLE users (
     id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
     email VARCHAR(255) NOT NULL,
     name VARCHAR(50) NULL DEFAULT 'anon',
     bio TEXT,
     status ENUM('active','gone') NOT NULL DEFAULT 'active',
     score DECIMAL(10,2) DEFAULT 0,
     nick VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_bin,
     created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
     updated_at TIMESTAMP NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP,
     full_name VARCHAR(400) AS (CONCAT(email, ' ', name)) STORED,
     double_score DECIMAL(12,2) AS (score * 2) VIRTUAL,
     parent_id INT,
     PRIMARY KEY (id),
     UNIQUE KEY uq_users_email (email),
     KEY ix_users_bio (bio(20)),
     KEY ix_users_name_email (name, email(10)),
     FULLTEXT KEY ft_users_bio (bio),
     CONSTRAINT ck_users_score CHECK (score >= 0),
     CONSTRAINT fk_users_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE
   ) ENGINE=InnoDB COMMENT='people'`,
  "CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active'",
  'CREATE TRIGGER users_lower BEFORE INSERT ON users FOR EACH ROW SET NEW.email = LOWER(NEW.email)',
  'CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2',
  "CREATE PROCEDURE greet(IN who VARCHAR(20)) SELECT CONCAT('hi ', who)",
  'CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, PRIMARY KEY (version_num))',
  "INSERT INTO alembic_version VALUES ('r1')",
  // AUTO_INCREMENT counters move; they are never compared.
  "INSERT INTO parent (code) VALUES ('a'), ('b'), ('c')",
];

// ...and the same schema piece by piece, in another order and other spellings.
const OTHER_WAY = [
  'CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
  'ALTER TABLE parent ADD COLUMN code VARCHAR(20) NOT NULL, ADD CONSTRAINT uq_parent_code UNIQUE (code)',
  'CREATE TABLE users (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, parent_id INT NULL) ENGINE=InnoDB ROW_FORMAT=DYNAMIC',
  `ALTER TABLE users
     ADD COLUMN email VARCHAR(255) NOT NULL AFTER id,
     ADD COLUMN name VARCHAR(50) DEFAULT 'anon',
     ADD COLUMN bio TEXT NULL,
     ADD COLUMN status ENUM('active','gone') NOT NULL DEFAULT 'active',
     ADD COLUMN score DECIMAL(10,2) NULL DEFAULT '0',
     ADD COLUMN nick VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_bin NULL,
     ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
     ADD COLUMN updated_at TIMESTAMP NULL ON UPDATE CURRENT_TIMESTAMP,
     ADD COLUMN full_name VARCHAR(400) GENERATED ALWAYS AS (CONCAT(email, ' ', name)) STORED,
     ADD COLUMN double_score DECIMAL(12,2) GENERATED ALWAYS AS (score*2) VIRTUAL`,
  "ALTER TABLE users COMMENT = 'people'",
  'CREATE UNIQUE INDEX uq_users_email ON users (email)',
  'CREATE INDEX ix_users_bio ON users (bio(20))',
  'CREATE INDEX ix_users_name_email ON users (name ASC, email(10))',
  'CREATE FULLTEXT INDEX ft_users_bio ON users (bio)',
  'ALTER TABLE users ADD CONSTRAINT ck_users_score CHECK ((score >= 0))',
  'ALTER TABLE users ADD CONSTRAINT fk_users_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE RESTRICT',
  "CREATE VIEW active_users AS select `id`, `email` from users where status='active'",
  'CREATE TRIGGER users_lower BEFORE INSERT ON users FOR EACH ROW\n    SET NEW.email   =  LOWER(NEW.email)',
  'CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2',
  "CREATE PROCEDURE greet(IN who VARCHAR(20)) SELECT CONCAT('hi ', who)",
];

describe('normalization, parsing and hints (no server)', () => {
  it('defaults read alike on MySQL (bare) and MariaDB (quoted, NULL for none)', () => {
    const maria = { flavor: 'mariadb' as const, extra: '', dataType: 'varchar' };
    const mysql = { flavor: 'mysql' as const, extra: '', dataType: 'varchar' };
    expect(normalizeDefault("'x'", maria)).toBe(normalizeDefault('x', mysql));
    expect(normalizeDefault("'it''s'", maria)).toBe(normalizeDefault("it's", mysql));
    expect(normalizeDefault('NULL', maria)).toBeNull();
    expect(normalizeDefault(null, mysql)).toBeNull();
    expect(normalizeDefault('0', { ...mysql, dataType: 'int' })).toBe('0');
    expect(normalizeDefault('CURRENT_TIMESTAMP', { ...mysql, extra: 'DEFAULT_GENERATED', dataType: 'timestamp' })).toBe('CURRENT_TIMESTAMP');
    expect(normalizeDefault('uuid()', { ...mysql, extra: 'DEFAULT_GENERATED', dataType: 'char' })).toBe('uuid()');
  });

  it('definitions lose the database qualifier and their outer parentheses', () => {
    expect(unqualified('select `app`.`users`.`id` AS `id`  from\n `app`.`users`', 'app')).toBe('select `users`.`id` AS `id` from `users`');
    expect(unwrap('((`score` >= 0))')).toBe('`score` >= 0');
    expect(unwrap('(a > 0) and (b > 0)')).toBe('(a > 0) and (b > 0)');
    expect(unwrap("(a = ')')")).toBe("a = ')'");
  });

  it('parses --database-url for mysql and mariadb dialects, and says what is wrong', () => {
    expect(parseMysqlUrl('mysql+pymysql://app:s%40cret@db.example:3307/app?charset=utf8mb4').admin).toEqual({ host: 'db.example', port: 3307, user: 'app', password: 's@cret' });
    expect(parseMysqlUrl('mysql+pymysql://app:x@db/app?charset=utf8mb4').query).toBe('charset=utf8mb4');
    expect(parseMysqlUrl('mariadb+mariadbconnector://root@127.0.0.1/').admin).toEqual({ host: '127.0.0.1', port: 3306, user: 'root' });
    expect(parseMysqlUrl('mysql://root@localhost/?unix_socket=/run/mysqld/mysqld.sock').admin.socketPath).toBe('/run/mysqld/mysqld.sock');
    expect(() => parseMysqlUrl('postgresql://u:hunter2@h/db')).toThrow(/is not MySQL or MariaDB/);
    expect(() => parseMysqlUrl('mysql://u:hunter2@h:99999/')).toThrow(/not usable/);
    expect(redactUrl('mysql://u:hunter2@h/db')).toBe('mysql://u:***@h/db');
  });

  it('auto is the URL when one is given, else local then container; PostgreSQL-only providers are refused', () => {
    expect(providerOrder('auto', SERVER_URL)).toEqual(['url']);
    expect(providerOrder('auto', undefined)).toEqual(['local', 'container']);
    expect(() => providerOrder('embedded', undefined)).toThrow(/--provider embedded is not one of MySQL's: auto, url, local, container/);
  });

  it('hints name what to write instead', () => {
    const where = { label: 'head' };
    expect(mysqlHint('(1170, "BLOB/TEXT column \'bio\' used in key specification without a key length")', where)).toMatch(/mysql_length/);
    expect(mysqlHint('(1071, \'Specified key was too long; max key length is 3072 bytes\')', where)).toMatch(/prefix/);
    expect(mysqlHint('1064 (42000): You have an error in your SQL syntax', where)).toMatch(/another engine/);
    expect(mysqlHint("No module named 'pymysql'", where)).toMatch(/PyMySQL/);
    expect(mysqlHint('(1146, "Table \'x\' doesn\'t exist")', where)).toBeNull();
  });
});

describe('local provider', () => {
  let server: MysqlServer;
  let target: DatabaseTarget;
  const [one, other] = ['one', 'other'];

  beforeAll(async () => {
    const started = Date.now();
    const logged: string[] = [];
    server = (await provisionMysql(mysqlEngine, { provider: 'local' }, (m) => logged.push(m))).server;
    console.log(`mysql local provider: ${JSON.stringify(server.backend.startup)} (${Date.now() - started} ms with the binary probe); ${logged.join('; ')}`);
    expect(await server.useMigrationRole('unprivileged')).toEqual([]);
    target = await server.gateTarget([one, other]);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('starts a server of its own in a temp dir, as an unprivileged user when root, and hands out targets for the migration user', () => {
    expect(server.provider).toBe('local');
    expect(server.serverVersion).toMatch(/^\d+\.\d+\.\d+(-MariaDB)?$/);
    expect(server.backend.tempDir).toMatch(/alembic-gate-mysql-/);
    expect(runningSync(server.backend.serverPid!)).toBe(true);
    expect(target.engine).toBe(mysqlEngine.id);
    expect(target.section).toBe(one);
    expect(target.others?.map((o) => o.section)).toEqual([other]);
    expect(target.twin.user).toMatch(/^alembic_gate_m_[0-9a-f]{10}$/);
    expect(target.twin.host).toBe('127.0.0.1');
    expect(target.url).toBe(`mysql://${target.twin.user}:${target.twin.password}@127.0.0.1:${target.twin.port}/${target.twin.database}`);
    expect(target.plainUrl).toBe(target.url);
    expect(target.marker).toMatch(new RegExp(`:${target.twin.port}:.*alembic-gate-mysql-.*/data/?$`));
    expect(target.aliases).toEqual(['localhost']);
    expect(target.allowed).toEqual({ host: '127.0.0.1', port: target.twin.port, database: target.twin.database });
  });

  it('the migration user may do anything in the run\'s databases and nothing outside them', async () => {
    const t = target.twin;
    const c = await connect({ host: t.host, port: t.port, user: t.user, password: t.password! });
    try {
      const grants = (await rows<Record<string, string>>(c, 'SHOW GRANTS')).map((r) => Object.values(r)[0]!);
      expect(grants.some((g) => /ON \*\.\*/.test(g) && !/^GRANT USAGE/.test(g))).toBe(false);
      await expect(c.query('CREATE DATABASE alembic_gate_intruder')).rejects.toThrow(/denied/i);
      await expect(c.query('SELECT * FROM mysql.user')).rejects.toThrow(/denied/i);
    } finally {
      await c.end();
    }
    // The admin login the gate keeps for --migration-role superuser is not passwordless.
    await expect(connect({ host: '127.0.0.1', port: t.port, user: 'root' })).rejects.toThrow(/denied|not allowed/i);
  });

  it('a schema made two ways reads the same, and the read covers every feature', async () => {
    await asProject(target, ONE_WAY);
    await asProject(target.others![0]!.target, OTHER_WAY);
    const a = await snapshotOf(server, target.twin.database);
    const b = await snapshotOf(server, target.others![0]!.target.twin.database);
    expect(messages(a.snapshot, b.snapshot)).toEqual([]);
    expect(a.state.equals(b.state)).toBe(true);

    const s = a.snapshot;
    expect(s.tables.map((t) => t.name)).toEqual(['parent', 'users']); // not alembic_version
    const users = s.tables.find((t) => t.name === 'users')!;
    expect(users.partitionKey).toMatch(/^ENGINE=InnoDB ROW_FORMAT=Dynamic COLLATE=utf8mb4_\w+$/);
    expect(users.comment).toBe('people');
    const col = (name: string) => s.columns.find((c) => c.table === 'users' && c.name === name)!;
    expect(col('id')).toMatchObject({ identity: 'AUTO_INCREMENT', notNull: true });
    expect(col('id').type).toMatch(/^bigint(\(20\))? unsigned$/);
    expect(col('name')).toMatchObject({ default: "'anon'", notNull: false });
    expect(col('status')).toMatchObject({ type: "enum('active','gone')", default: "'active'", notNull: true });
    expect(col('bio').default).toBeNull();
    expect(col('nick').collation).toBe('latin1_bin');
    expect(col('email').collation).toBeNull(); // the table's
    expect(col('created_at').default).toMatch(/^current_timestamp(\(\))?$/i);
    expect(col('updated_at').default).toMatch(/^NULL ON UPDATE current_timestamp(\(\))?$/i);
    expect(col('full_name').generated).toMatch(/concat\(`email`,' ',`name`\) STORED$/i);
    expect(col('double_score').generated).toMatch(/`score` \* 2 VIRTUAL$/);
    const constraint = (name: string) => s.constraints.find((c) => c.name === name)!;
    expect(constraint('PRIMARY')).toMatchObject({ type: 'primary key' });
    expect(s.constraints.filter((c) => c.type === 'primary key').map((c) => `${c.table}: ${c.definition}`)).toEqual(['parent: PRIMARY KEY (id)', 'users: PRIMARY KEY (id)']);
    expect(constraint('uq_users_email')).toMatchObject({ type: 'unique constraint', definition: 'UNIQUE (email)' });
    expect(constraint('uq_parent_code')).toMatchObject({ type: 'unique constraint', table: 'parent' });
    expect(constraint('ck_users_score')).toMatchObject({ type: 'check constraint', definition: 'CHECK (`score` >= 0)' });
    expect(constraint('fk_users_parent')).toMatchObject({ type: 'foreign key', definition: 'FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE', onDelete: 'CASCADE', onUpdate: 'NO ACTION' });
    const index = (name: string) => s.indexes.find((i) => i.name === name)?.definition;
    expect(index('ix_users_bio')).toBe('(bio(20))');
    expect(index('ix_users_name_email')).toBe('(name, email(10))');
    expect(index('ft_users_bio')).toBe('FULLTEXT (bio)');
    expect(index('fk_users_parent')).toBe('(parent_id)'); // the index MySQL made for the foreign key
    expect(s.views).toEqual([expect.objectContaining({ name: 'active_users', schema: 'db' })]);
    expect(s.views[0]!.definition).toBe("select `users`.`id` AS `id`,`users`.`email` AS `email` from `users` where `users`.`status` = 'active'");
    expect(s.triggers).toEqual([expect.objectContaining({ name: 'users_lower', table: 'users', definition: 'BEFORE INSERT ON users FOR EACH ROW SET NEW.email = LOWER(NEW.email)' })]);
    expect(s.routines.map((r) => `${r.kind} ${r.name}(${r.arguments})${r.returns ? ` ${r.returns}` : ''}`)).toEqual(['function double_it(x int(11)) int(11)', 'procedure greet(IN who varchar(20))'].map((x) => (server.backend.facts.flavor === 'mysql' ? x.replace(/int\(11\)/g, 'int') : x)));
  });

  it('changes read as the walk words them, named users.email, never by AUTO_INCREMENT', async () => {
    const db2 = target.others![0]!.target;
    const before = (await snapshotOf(server, db2.twin.database)).snapshot;
    await asProject(db2, [
      "INSERT INTO parent (code) VALUES ('z')",
      'ALTER TABLE users DROP FOREIGN KEY fk_users_parent',
      "ALTER TABLE users MODIFY name VARCHAR(50) NULL DEFAULT 'nobody', MODIFY email VARCHAR(255) NULL",
      'ALTER TABLE users DROP INDEX ix_users_bio, ADD INDEX ix_users_bio (bio(30))',
      'ALTER TABLE users ENGINE=MyISAM',
    ]);
    const after = (await snapshotOf(server, db2.twin.database)).snapshot;
    const said = messages(before, after);
    expect(said).toContain("downgrade of r1: column users.email is nullable, was NOT NULL");
    expect(said).toContain("downgrade of r1: column users.name default is 'nobody', was 'anon'");
    expect(said).toContain('downgrade of r1 drops foreign key fk_users_parent on users, which existed before the upgrade');
    expect(said).toContain('downgrade of r1: index ix_users_bio definition is (bio(30)), was (bio(20)) (on users)');
    expect(said.some((m) => /table users partition key is ENGINE=MyISAM/.test(m))).toBe(true);
    // The FK's own index stays after DROP FOREIGN KEY (MySQL leaves it): not reported as gone.
    expect(said.some((m) => /index fk_users_parent/.test(m))).toBe(false);
    expect(said.some((m) => /parent/.test(m) && !/fk_users_parent/.test(m))).toBe(false); // the new row moved parent's counter only
  });

  it('reads the version table, and ends other sessions on its database', async () => {
    const session = await server.session(target.twin.database, { incremental: false });
    try {
      expect(await session.versions(null)).toEqual(['r1']);
      expect(await session.versions({ schema: null, name: 'custom_versions' })).toEqual([]);
      expect(await session.tables({ schema: null, name: 'alembic_version' })).toEqual([]);
      expect(await session.roles()).toBeNull();
      const db2 = await server.session(target.others![0]!.target.twin.database, { incremental: false });
      expect(await db2.versions(null)).toBeNull(); // the default version table is not there
      await db2.close();
      const t = target.twin;
      const other = await connect({ host: t.host, port: t.port, user: t.user, password: t.password! }, t.database);
      const [[{ id }]] = (await other.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
      await session.endOtherSessions();
      other.destroy();
      await withConnection(server.backend.admin, async (c) => {
        expect(await until(async () => (await rows(c, 'SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [id])).length === 0, 2_000)).toBe(true);
      });
    } finally {
      await session.close();
    }
  });

  it('makes, grants and drops databases of its own only; copies are refused', async () => {
    const made = await server.createTarget(target);
    expect(made.section).toBe(one);
    const names = [made.twin.database, made.others![0]!.target.twin.database];
    expect(new Set(names).size).toBe(2);
    await asProject(made.others![0]!.target, ['CREATE TABLE t (id INT PRIMARY KEY)']);
    expect((await snapshotOf(server, made.twin.database)).snapshot.tables).toEqual([]);
    await expect(server.createTarget(target, target)).rejects.toThrow(/copies are not supported on MySQL/);
    await expect(server.dropDatabase('mysql')).rejects.toThrow(/not created by this run/);
    await expect(server.dropDatabase(target.twin.database)).rejects.toThrow(/gate database/);
    await server.dropTarget(made);
    for (const n of names) expect(server.databases).not.toContain(n);
    await withConnection(server.backend.admin, async (c) => {
      expect(await rows(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?, ?)', names)).toEqual([]);
    });
  });

  it('dispose stops the server and removes its directory', async () => {
    const { serverPid, tempDir } = server.backend;
    await server.dispose();
    await server.dispose(); // twice is fine
    expect(await until(() => !runningSync(serverPid!))).toBe(true);
    expect(existsSync(tempDir!)).toBe(false);
    expect(pendingCleanups()).toBe(0);
  });
});

describe('local provider, --migration-role superuser', () => {
  it('the project\'s code gets the server\'s own root over TCP, with a per-run password and a warning', async () => {
    const { server } = await provisionMysql(mysqlEngine, { provider: 'local' });
    try {
      expect((await server.useMigrationRole('superuser')).join('\n')).toMatch(/--migration-role superuser: the project's code connects as "root"/);
      const target = await server.gateTarget(null);
      expect(target.twin.user).toBe('root');
      expect(target.twin.password).toMatch(/^[\w-]{24}$/);
      await asProject(target, ['CREATE DATABASE alembic_gate_superuser_may', 'DROP DATABASE alembic_gate_superuser_may']);
    } finally {
      await server.dispose();
    }
    expect(pendingCleanups()).toBe(0);
  });
});

describe('url provider', () => {
  it('makes a database and a user of its own on the server, and drops both at dispose', async () => {
    const { server, attempts } = await provisionMysql(mysqlEngine, { provider: 'url', databaseUrl: SERVER_URL });
    expect(attempts).toEqual([]);
    expect(server.provider).toBe('url');
    const notices = await server.useMigrationRole('unprivileged');
    const target = await server.gateTarget(['a', 'b']);
    const user = server.migrationUser!;
    const databases = server.databases;
    expect(databases).toHaveLength(2);
    expect(databases.every((d) => /^alembic_gate_\d{14}_[0-9a-f]{8}$/.test(d))).toBe(true);
    if (SERVER_ADMIN.user === 'root') expect(notices.join('\n')).toMatch(/has every privilege on a server/);
    expect(target.twin).toMatchObject({ host: SERVER_ADMIN.host, port: SERVER_ADMIN.port, user });
    expect((await usersOnServer(user)).sort()).toEqual(['%', 'localhost']);
    await asProject(target.others![0]!.target, ['CREATE TABLE t (id INT PRIMARY KEY, note TEXT)']);
    expect((await snapshotOf(server, target.others![0]!.target.twin.database)).snapshot.columns.map((c) => c.name)).toEqual(['id', 'note']);
    await server.dispose();
    expect(await databasesOnServer(databases)).toEqual([]);
    expect(await usersOnServer(user)).toEqual([]);
    expect(pendingCleanups()).toBe(0);
  });

  it('--migration-role superuser keeps the URL\'s user, with a warning', async () => {
    const { server } = await provisionMysql(mysqlEngine, { provider: 'auto', databaseUrl: SERVER_URL });
    try {
      expect((await server.useMigrationRole('superuser')).join('\n')).toMatch(/--migration-role superuser: the project's code connects as the --database-url user/);
      expect((await server.gateTarget(null)).twin.user).toBe(SERVER_ADMIN.user);
    } finally {
      await server.dispose();
    }
  });

  it('says why a server cannot be reached, without the password', async () => {
    const err = await provisionMysql(mysqlEngine, { provider: 'url', databaseUrl: 'mysql://nobody:hunter2@127.0.0.1:1/' }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/could not connect to MySQL at 127\.0\.0\.1:1/);
    expect((err as Error).message).not.toMatch(/hunter2/);
    expect(pendingCleanups()).toBe(0);
  });
});

describe('container provider', () => {
  it('fails with the reason when no Docker engine answers', async () => {
    const err = await provisionMysql(mysqlEngine, { provider: 'container' }).catch((e: Error) => e);
    if (!(err instanceof Error)) {
      await err.server.dispose(); // a machine with Docker: it worked
      return;
    }
    expect(err.message).toMatch(/- container: .*(Docker|testcontainers)/);
    expect(err.message).toMatch(/--database-url mysql:\/\//);
  });
});

describe('a gate stopped by a signal leaves nothing', () => {
  let bundle: string;
  beforeAll(async () => {
    // In node_modules/.cache, so that dist/sentinel.js is found as from src/ (../../dist).
    const outDir = join(repoRoot, 'node_modules', '.cache');
    mkdirSync(outDir, { recursive: true });
    bundle = join(outDir, `ag-mysql-${process.pid}-${randomBytes(3).toString('hex')}.mjs`);
    const contents = `
      import { mysqlEngine, provisionMysql } from './src/engines/mysql/engine.ts';
      const local = (await provisionMysql(mysqlEngine, { provider: 'local' })).server;
      await local.useMigrationRole('unprivileged');
      const url = (await provisionMysql(mysqlEngine, { provider: 'url', databaseUrl: process.argv[2] })).server;
      await url.useMigrationRole('unprivileged');
      await url.gateTarget(['a', 'b']);
      console.log(JSON.stringify({ serverPid: local.backend.serverPid, tempDir: local.backend.tempDir, databases: url.databases, user: url.migrationUser }));
      setInterval(() => {}, 1000);
    `;
    await build({ stdin: { contents, resolveDir: repoRoot, loader: 'ts' }, outfile: bundle, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
    expect(existsSync(join(repoRoot, 'dist', 'sentinel.js')), 'npm run build first: the watchdog is dist/sentinel.js').toBe(true);
  });
  afterAll(() => rmSync(bundle, { force: true }));

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`${signal}: no server process, temp dir, database or user is left`, async () => {
      const child = spawn(process.execPath, [bundle, SERVER_URL], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALEMBIC_GATE_SENTINEL: '' } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
      const info = await new Promise<{ serverPid: number; tempDir: string; databases: string[]; user: string }>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line));
        });
        void exited.then((r) => reject(new Error(`helper exited early (${JSON.stringify(r)}): ${stderr}`)));
      });
      expect(runningSync(info.serverPid)).toBe(true);
      expect(await databasesOnServer(info.databases)).toHaveLength(2);
      child.kill(signal);
      expect(await exited, stderr).toEqual(signal === 'SIGTERM' ? { code: 143, signal: null } : { code: null, signal: 'SIGKILL' });
      // After SIGKILL the watchdog does it: give it its grace period.
      expect(await until(() => !runningSync(info.serverPid))).toBe(true);
      expect(await until(() => !existsSync(info.tempDir))).toBe(true);
      expect(await until(async () => (await databasesOnServer(info.databases)).length === 0)).toBe(true);
      expect(await until(async () => (await usersOnServer(info.user)).length === 0)).toBe(true);
    });
  }
});
