import { build } from 'esbuild';
import pg from 'pg';
const [dir, ...dbs] = process.argv.slice(2);
await build({ entryPoints: [dir + '/queries.ts'], bundle: true, format: 'esm', platform: 'node', outfile: '/tmp/qr.mjs', logLevel: 'error' });
const q = await import('/tmp/qr.mjs?' + Date.now());
for (const db of dbs) {
const c = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: db }); await c.connect();
await c.query(q.PREPARE_SQL);
const med = async (f) => { for (let i = 0; i < 20; i++) await f(); const t = []; for (let i = 0; i < 100; i++) { const t0 = performance.now(); await f(); t.push(performance.now() - t0); } t.sort((a, b) => a - b); return t[50].toFixed(2); };
console.log(db, 'rows', await med(() => c.query(q.EXECUTE_SQL)), 'array', await med(() => c.query({text: q.EXECUTE_SQL, rowMode: 'array'})));
await c.end();
}
