// dist/sentinel.js: see src/util/sentinel.ts. Reads the gate's list of what it owns from stdin;
// on end of input it cleans up whatever is still listed, then exits.
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dropLeftovers as dropPostgresql } from '../engines/postgresql/leftovers.js';
import type { SentinelEntry } from '../util/sentinel.js';
import { killTreeSync } from '../util/proctree.js';

const GRACE_MS = 1_500;
const entries = new Map<number, SentinelEntry>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cleanUp(): Promise<void> {
  const listed = [...entries.values()].reverse();
  const pids = listed.flatMap((e) => e.pids ?? []);
  for (const p of pids) {
    try {
      if (p.tree) killTreeSync(p.pid);
      else process.kill(p.pid, p.signal);
    } catch {
      // gone already
    }
  }
  const until = Date.now() + GRACE_MS;
  while (pids.some((p) => alive(p.pid)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  for (const p of pids) {
    if (alive(p.pid)) killTreeSync(p.pid, false);
  }
  await Promise.all(
    listed.map(async (e) => {
      if (e.drop) await dropPostgresql(e.drop).catch(() => {});
      if (e.mysqlDrop) {
        // Loaded only when there is something to drop: the sentinel's own start stays small.
        const { dropLeftovers } = await import('../engines/mysql/leftovers.js');
        await dropLeftovers(e.mysqlDrop).catch(() => {});
      }
      for (const dir of e.dirs ?? []) await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
    }),
  );
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  try {
    const msg = JSON.parse(line) as { op: string; id: number; entry?: SentinelEntry };
    if (msg.op === 'set' && msg.entry) entries.set(msg.id, msg.entry);
    else if (msg.op === 'remove') entries.delete(msg.id);
  } catch {
    // not ours
  }
});
lines.on('close', () => {
  if (entries.size === 0) process.exit(0);
  cleanUp().finally(() => process.exit(0));
});
