import pg from 'pg';
const [qfile, db, mode, ...kinds] = process.argv.slice(2);
const q = await import(qfile + '?' + Date.now());
const c = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: db }); await c.connect();
await c.query(`SET plan_cache_mode = ${mode}`);
if (q.SESSION_SQL) await c.query(q.SESSION_SQL);
await c.query(q.PREPARE_SQL);
for (const [kind] of q.SNAPSHOT_QUERIES) {
  if (kinds.length && !kinds.includes(kind)) continue;
  for (let i = 0; i < 6; i++) await c.query(`EXECUTE alembic_gate_snapshot_${kind}`);
  const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE alembic_gate_snapshot_${kind}`);
  console.log('=== ' + kind); console.log(r.rows.map((x) => x['QUERY PLAN']).join('\n'));
}
await c.end();
