import { build } from 'esbuild';
import pg from 'pg';
const [dir, ...dbs] = process.argv.slice(2);
await build({ entryPoints: [dir + '/queries.ts'], bundle: true, format: 'esm', platform: 'node', outfile: '/tmp/q.mjs', logLevel: 'error' });
const q = await import('/tmp/q.mjs?' + Date.now());
for (const db of dbs) {
  const c = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: db }); await c.connect();
  if (q.SESSION_SQL) await c.query(q.SESSION_SQL);
  await c.query(q.PREPARE_SQL);
  const res = [];
  for (const [kind] of q.SNAPSHOT_QUERIES) {
    for (let i = 0; i < 10; i++) await c.query(`EXECUTE alembic_gate_snapshot_${kind}`);
    const t = [];
    for (let i = 0; i < 40; i++) { const t0 = performance.now(); await c.query(`EXECUTE alembic_gate_snapshot_${kind}`); t.push(performance.now() - t0); }
    t.sort((a, b) => a - b); res.push(`${kind} ${t[20].toFixed(2)}`);
  }
  const t = [];
  for (let i = 0; i < 40; i++) { const t0 = performance.now(); await c.query('SELECT 1'); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  console.log(db, res.join(', '), 'SELECT1', t[20].toFixed(2));
  await c.end();
}
