// Process trees: everything a process started, found through /proc's parent links, and ended
// together. The worker is a child subreaper (alembic_gate_worker/procs.py), so while it lives even double-forked
// and setsid daemons of user code stay below it and are found here.
import { readdirSync, readFileSync } from 'node:fs';

interface Proc {
  ppid: number;
  state: string;
}

function processTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return table; // no /proc (not Linux): callers fall back to the process group
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { state: rest[0]!, ppid: Number(rest[1]) });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/** Live (not zombie) descendants of `root`, parents before children. */
export function descendants(root: number): number[] {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, p] of table) {
    const list = children.get(p.ppid) ?? [];
    list.push(pid);
    children.set(p.ppid, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const pid of children.get(queue.shift()!) ?? []) {
      const state = table.get(pid)?.state;
      if (state !== 'Z' && state !== 'X') found.push(pid);
      queue.push(pid);
    }
  }
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone, or not ours
  }
}

/**
 * SIGKILL `root`, its process group and every descendant, synchronously (usable on 'exit').
 * Descendants are stopped first so none forks while the tree is read, and killed before the
 * root, so a subreaper root still holds its orphans when they are looked for.
 */
export function killTreeSync(root: number, group = true): void {
  for (let round = 0; round < 20; round++) {
    const live = descendants(root);
    if (live.length === 0) break;
    for (const pid of live) signal(pid, 'SIGSTOP');
    for (const pid of live) signal(pid, 'SIGKILL');
  }
  if (group) signal(-root, 'SIGKILL');
  signal(root, 'SIGKILL');
}
