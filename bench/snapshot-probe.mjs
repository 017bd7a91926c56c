// Times takeSnapshot() and dumps its output, for comparing two versions of src/snapshot.
// usage: node bench/snapshot-probe.mjs <snapshot dir (default src/snapshot)> <label> <db>... [--runs N]
// Writes /tmp/snapshot-probe.<label>.<db>.json (canonicalJson + JSON of the normalized snapshot).
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 100;
const [dir = 'src/snapshot', label = 'new', ...dbs] = args;
const out = `/tmp/snapshot-probe.${label}.bundle.mjs`;
await build({
  entryPoints: [resolve(dir, 'index.ts')], bundle: true, format: 'esm', platform: 'node',
  outfile: out, external: ['pg'], logLevel: 'error',
});
const mod = await import(out + '?' + Date.now());
for (const db of dbs.length ? dbs : ['ag_sp']) {
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: db });
  await client.connect();
  let s;
  for (let i = 0; i < 20; i++) s = await mod.takeSnapshot(client);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    s = await mod.takeSnapshot(client);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const eq = [];
  for (let i = 0; i < 20; i++) {
    const a = await mod.takeSnapshot(client), b = await mod.takeSnapshot(client);
    const t0 = performance.now();
    if (!mod.snapshotsEqual(a, b)) throw new Error('unequal');
    eq.push(performance.now() - t0);
  }
  eq.sort((a, b) => a - b);
  const med = times[Math.floor(runs / 2)];
  console.log(`${label} ${db}: ${s.tables.length} tables ${s.columns.length} cols ${s.constraints.length} cons ${s.indexes.length} idx: ` +
    `median ${med.toFixed(2)} ms, p10 ${times[Math.floor(runs / 10)].toFixed(2)}, p90 ${times[Math.floor(runs * 0.9)].toFixed(2)}; snapshotsEqual median ${eq[10].toFixed(2)} ms`);
  writeFileSync(`/tmp/snapshot-probe.${label}.${db}.json`, mod.canonicalJson(s) + '\n' + JSON.stringify(s) + '\n');
  await client.end();
}
