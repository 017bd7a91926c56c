#!/usr/bin/env node
// Runs alembic-gate on the bundled example project: builds a small git repository from
// examples/shop (a `main` branch and a `pr` branch that adds a revision), then runs
//   node dist/cli.js check --base main --python /usr/bin/python3
// in it and prints the report. `node examples/demo.mjs leaky` runs it on a PR whose downgrade
// forgets an enum type and an index, to show a failing verdict.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeRepo, projectRoot } from '../scripts/fixture-repo.mjs';

const scenario = process.argv[2] ?? 'clean';
const layers = { clean: ['examples/shop/pr'], leaky: ['examples/shop/pr', 'examples/shop/pr-leaky'] }[scenario];
if (!layers) {
  console.error(`unknown scenario "${scenario}": use clean or leaky`);
  process.exit(2);
}
const repo = makeRepo({ base: ['examples/shop/base'], pr: layers });
const python = process.env.ALEMBIC_GATE_PYTHON ?? '/usr/bin/python3';
const args = [join(projectRoot, 'dist', 'cli.js'), 'check', '--base', 'main', '--python', python, '--format', process.env.FORMAT ?? 'text', ...process.argv.slice(3)];
console.error(`$ cd ${repo.dir} && node ${args.join(' ')}`);
const result = spawnSync(process.execPath, args, { cwd: repo.dir, stdio: 'inherit' });
repo.cleanup();
process.exit(result.status ?? 2);
