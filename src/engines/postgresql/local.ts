// `local` provider: PostgreSQL server binaries already on the machine (initdb, postgres),
// run as an ephemeral cluster in a temp dir (see cluster.ts).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { startCluster } from './cluster.js';
import type { ThrowawayDatabase } from './provider.js';

export interface PostgresBinaries {
  binDir: string;
  /** Full version, e.g. "15.20". */
  version: string;
  major: number;
}

/**
 * Directories that may hold initdb and postgres, most preferred first: PATH, pg_config's
 * bindir, Debian/Ubuntu (highest version first), RHEL, source installs, Homebrew.
 * Lazy, so when PATH has them nothing else is run.
 */
export function* candidateBinDirs(): Generator<string> {
  const seen = new Set<string>();
  const fresh = (dirs: string[]): string[] => dirs.filter((d) => d && !seen.has(d) && seen.add(d));
  yield* fresh((process.env.PATH ?? '').split(delimiter));
  try {
    const out = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    yield* fresh([out.trim()]);
  } catch {
    // no pg_config on PATH
  }
  yield* fresh(versionedDirs('/usr/lib/postgresql', (v) => join('/usr/lib/postgresql', v, 'bin')));
  yield* fresh(versionedDirs('/usr', (v) => join('/usr', v, 'bin'), /^pgsql-(\d+)$/));
  yield* fresh(['/usr/local/pgsql/bin']);
  for (const prefix of ['/opt/homebrew', '/usr/local']) {
    yield* fresh(versionedDirs(join(prefix, 'opt'), (v) => join(prefix, 'opt', v, 'bin'), /^postgresql@(\d+)$/));
    yield* fresh([join(prefix, 'opt', 'postgresql', 'bin'), join(prefix, 'bin')]);
  }
}

/** Subdirectories of `root` whose names carry a major version, highest first. */
function versionedDirs(root: string, toBin: (name: string) => string, pattern = /^(\d+(?:\.\d+)?)$/): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: pattern.exec(name) }))
    .filter((x) => x.m)
    .sort((a, b) => Number(b.m![1]) - Number(a.m![1]))
    .map((x) => toBin(x.name));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The version of the postgres binary in `binDir`, or undefined if it does not run. */
const versionCache = new Map<string, PostgresBinaries | undefined>();

export function binariesIn(binDir: string): PostgresBinaries | undefined {
  if (!versionCache.has(binDir)) versionCache.set(binDir, probeBinaries(binDir));
  return versionCache.get(binDir);
}

function probeBinaries(binDir: string): PostgresBinaries | undefined {
  if (!isExecutable(join(binDir, 'initdb')) || !isExecutable(join(binDir, 'postgres'))) return undefined;
  try {
    const out = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    const m = /(\d+)(?:\.(\d+))?/.exec(out.replace(/^[^)]*\)/, ''));
    if (!m) return undefined;
    return { binDir, version: m[2] !== undefined ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) };
  } catch {
    return undefined;
  }
}

/** Parse a requested version ("15", "15.4", "16beta") into its major number. */
export function requestedMajor(postgresVersion: string | undefined): number | undefined {
  if (!postgresVersion) return undefined;
  const m = /^\s*(\d+)/.exec(postgresVersion);
  if (!m) throw new Error(`postgres-version "${postgresVersion}" is not a version such as 16 or 15.4`);
  return Number(m[1]);
}

/** Find server binaries, honouring a requested major version. Throws with what was found. */
export function findPostgresBinaries(opts: { postgresVersion?: string } = {}): PostgresBinaries {
  const wanted = requestedMajor(opts.postgresVersion);
  const found: PostgresBinaries[] = [];
  for (const dir of candidateBinDirs()) {
    const bins = binariesIn(dir);
    if (!bins) continue;
    if (wanted === undefined || bins.major === wanted) return bins;
    found.push(bins);
  }
  if (found.length > 0) {
    const list = found.map((b) => `${b.version} in ${b.binDir}`).join(', ');
    throw new Error(`no PostgreSQL ${wanted} server binaries found (found ${list}); install PostgreSQL ${wanted} or ask for one of those versions`);
  }
  throw new Error(
    'no PostgreSQL server binaries (initdb, postgres) found on PATH, via pg_config, in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /usr/local/pgsql/bin or Homebrew',
  );
}

export async function provisionLocal(opts: { postgresVersion?: string; log?: (msg: string) => void } = {}): Promise<ThrowawayDatabase> {
  const bins = findPostgresBinaries(opts);
  opts.log?.(`local: using PostgreSQL ${bins.version} from ${bins.binDir}`);
  return startCluster({ provider: 'local', binDir: bins.binDir, major: bins.major, log: opts.log });
}
