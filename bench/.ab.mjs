import { build } from 'esbuild';
import pg from 'pg';
import { resolve } from 'node:path';
const args = process.argv.slice(2);
const dirs = args.filter((a) => a.includes('/')), dbs = args.filter((a) => !a.includes('/'));
const load = async (dir, tag) => { const out = `/tmp/ab.${tag}.mjs`; await build({ entryPoints: [resolve(dir, 'index.ts')], bundle: true, format: 'esm', platform: 'node', outfile: out, external: ['pg'], logLevel: 'error' }); return import(out + '?' + Date.now()); };
const mods = []; for (const [i, d] of dirs.entries()) mods.push(await load(d, 'm' + i));
for (const db of dbs) {
  const cs = [];
  for (const m of mods) { const c = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: db }); await c.connect(); cs.push(c); }
  for (let i = 0; i < 20; i++) for (const [k, m] of mods.entries()) await m.takeSnapshot(cs[k]);
  const t = mods.map(() => []), e = mods.map(() => []);
  for (let i = 0; i < 100; i++) for (const [k, m] of mods.entries()) {
    let t0 = performance.now(); const s = await m.takeSnapshot(cs[k]); t[k].push(performance.now() - t0);
    t0 = performance.now(); m.canonicalJson(s); e[k].push(performance.now() - t0);
  }
  const q = (x, p) => { x.sort((a, b) => a - b); return x[Math.floor(x.length * p)].toFixed(2); };
  console.log(db + ': ' + dirs.map((d, k) => `${d} med ${q(t[k], 0.5)} p25 ${q(t[k], 0.25)} (json ${q(e[k], 0.5)})`).join(' | '));
  for (const c of cs) await c.end();
}
