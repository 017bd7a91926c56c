// What a run made on a shared PostgreSQL server (--database-url), as the watchdog holds it
// (src/util/sentinel.ts): if the gate dies without cleaning up, the sentinel drops these.
import { dropDatabaseOn, quoteIdent, withClient } from './client.js';
import type { ConnectionInfo } from './provider.js';

export interface PostgresqlDropList {
  admin: ConnectionInfo;
  databases: string[];
  roles: string[];
  versionNum: number;
}

/** Drops what is listed, databases first, then roles; best effort (the sentinel has no one to tell). */
export async function dropLeftovers(list: PostgresqlDropList): Promise<void> {
  for (const name of list.databases) await dropDatabaseOn(list.admin, name, list.versionNum).catch(() => {});
  for (const role of list.roles) await withClient(list.admin, (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`)).catch(() => {});
}
