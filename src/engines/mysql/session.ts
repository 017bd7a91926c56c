// The gate's own mysql2 connection to one database of a target: whole snapshots (MySQL has no
// event triggers to read incrementally from), the version table, and ending other sessions.
import type { Snapshot } from '../../snapshot/model.js';
import { WholeSnapshotSession } from '../whole-snapshot.js';
import { connect, killSessionsOn, quoteIdent, rows, text, type Connection, type Flavor, type MysqlConnection } from './client.js';
import { readSnapshot, VERSION_TABLE } from './read.js';

const ER_NO_SUCH_TABLE = 1146;
const ER_BAD_DB_ERROR = 1049;

export class MysqlSession extends WholeSnapshotSession {
  private constructor(
    private readonly conn: Connection,
    private readonly database: string,
    private readonly flavor: Flavor,
  ) {
    super();
  }

  static async open(admin: MysqlConnection, database: string, flavor: Flavor): Promise<MysqlSession> {
    const conn = await connect(admin, database);
    // MySQL 8 caches some information_schema figures for a day; this session reads them fresh.
    if (flavor === 'mysql') await conn.query('SET SESSION information_schema_stats_expiry = 0').catch(() => {});
    return new MysqlSession(conn, database, flavor);
  }

  protected snapshot(): Promise<Snapshot> {
    return readSnapshot(this.conn, this.database, this.flavor);
  }

  async versions(table: { schema: string | null; name: string } | null): Promise<string[] | null> {
    const vt = table ?? { schema: null, name: VERSION_TABLE };
    const qualified = `${vt.schema ? `${quoteIdent(vt.schema)}.` : ''}${quoteIdent(vt.name)}`;
    try {
      const found = await rows<{ v: unknown }>(this.conn, `SELECT version_num AS v FROM ${qualified}`);
      return found.map((r) => text(r.v) ?? '').sort();
    } catch (err) {
      // The version table env.py configured is not there: nothing was committed. The default
      // one missing, or anything else: the caller rebuilds rather than guess.
      const errno = (err as { errno?: number }).errno;
      if (table && (errno === ER_NO_SUCH_TABLE || errno === ER_BAD_DB_ERROR)) return [];
      return null;
    }
  }

  override async endOtherSessions(): Promise<void> {
    await killSessionsOn(this.conn, this.database).catch(() => {});
  }

  async close(): Promise<void> {
    await this.conn.end().catch(() => this.conn.destroy());
  }
}
