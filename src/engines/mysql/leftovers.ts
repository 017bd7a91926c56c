// What a run made on a shared MySQL/MariaDB server (--database-url), as the watchdog holds it
// (src/util/sentinel.ts): if the gate dies without cleaning up, the sentinel drops these.
import { dropDatabaseOn, dropUserOn, MYSQL_ID, withConnection, type MysqlConnection } from './client.js';

export interface MysqlDropList {
  engine: typeof MYSQL_ID;
  admin: MysqlConnection;
  databases: string[];
  /** Users made for the run (each at every host in USER_HOSTS). */
  users: string[];
}

export function dropList(admin: MysqlConnection, databases: Iterable<string>, users: Iterable<string>): MysqlDropList {
  return { engine: MYSQL_ID, admin, databases: [...databases], users: [...users] };
}

/** Drops what is listed, databases first; best effort (the sentinel has no one to tell). */
export async function dropLeftovers(list: MysqlDropList): Promise<void> {
  if (list.engine !== MYSQL_ID) return;
  for (const name of list.databases) await dropDatabaseOn(list.admin, name).catch(() => {});
  if (list.users.length === 0) return;
  await withConnection(list.admin, async (conn) => {
    for (const user of list.users) await dropUserOn(conn, user).catch(() => {});
  }).catch(() => {});
}
