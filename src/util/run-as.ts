// Running a server as an unprivileged account when the gate runs as root (PostgreSQL refuses
// root; MySQL would want --user), and where that account can reach its files.
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. When we are root, run initdb and the server as an
 * existing unprivileged account (postgres, else nobody); never create accounts.
 */
export function unprivilegedUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    // fall through to the error below
  }
  const users = new Map<string, RunAs>();
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name && uid && gid && Number(uid) !== 0) users.set(name, { name, uid: Number(uid), gid: Number(gid) });
  }
  const user = users.get('postgres') ?? users.get('nobody');
  if (!user) {
    throw new Error(
      'running as root, and PostgreSQL refuses to run as root; no unprivileged "postgres" or "nobody" user exists in /etc/passwd to run it as. Run as a normal user or create a "postgres" user',
    );
  }
  return user;
}

/**
 * Where to put the cluster: the temp dir, unless the server's unprivileged user cannot reach
 * it (root's TMPDIR is often a private 0700 directory); then /tmp, which everyone can.
 */
export function clusterParent(runAs: RunAs | undefined, dir = tmpdir()): string {
  if (!runAs) return dir;
  return reachableBy(runAs, dir) ? dir : '/tmp';
}

/** Whether `runAs` may search `path` and every directory above it. */
export function reachableBy(runAs: RunAs, dir: string): boolean {
  let path = resolve(dir);
  for (;;) {
    try {
      const st = statSync(path);
      const bit = st.uid === runAs.uid ? 0o100 : st.gid === runAs.gid ? 0o010 : 0o001;
      if (!(st.mode & bit)) return false;
    } catch {
      return false;
    }
    const parent = dirname(path);
    if (parent === path) return true;
    path = parent;
  }
}

/** Whether pid still runs (a zombie, exited but not yet reaped by us, counts as stopped). */
export function runningSync(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    // No /proc (macOS): cannot tell a zombie apart; assume it is still stopping.
    return true;
  }
}
