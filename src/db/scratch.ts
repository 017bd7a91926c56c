// Where a throwaway cluster's files go. A cluster is thrown away after one run, so memory is
// the right place: on tmpfs, initdb takes 0.47 s and copying a cached data directory 0.07 s,
// against 2.1 s and 1.0 s on this machine's ext4 (mounted with discard). /dev/shm is used when
// it has room (Docker gives containers only 64 MiB there); an explicit TMPDIR always wins.
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';

const MIN_FREE_BYTES = 1024 ** 3;

export function scratchDir(env: NodeJS.ProcessEnv = process.env, shm = '/dev/shm'): string {
  if (env.TMPDIR || env.ALEMBIC_GATE_NO_SHM) return tmpdir();
  try {
    if (!statSync(shm).isDirectory()) return tmpdir();
    accessSync(shm, constants.W_OK | constants.X_OK);
    const fs = statfsSync(shm);
    if (fs.bavail * fs.bsize < MIN_FREE_BYTES) return tmpdir();
    return shm;
  } catch {
    return tmpdir();
  }
}
