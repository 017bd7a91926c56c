import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
const [dir, tag] = process.argv.slice(2);
await build({ entryPoints: [dir + '/queries.ts'], bundle: true, format: 'esm', platform: 'node', outfile: `/tmp/qd${tag}.mjs`, logLevel: 'error' });
const q = await import(`/tmp/qd${tag}.mjs?` + Date.now());
for (const [k, sql] of q.SNAPSHOT_QUERIES) {
  writeFileSync(`/tmp/pgb/${tag}.${k}.rows.sql`, sql.trim() + ';\n');
  writeFileSync(`/tmp/pgb/${tag}.${k}.json.sql`, `SELECT coalesce(json_agg(q), '[]')::text FROM (${sql.trim()}) q;\n`);
}
if (q.SNAPSHOT_SQL) writeFileSync(`/tmp/pgb/${tag}.all.sql`, q.SNAPSHOT_SQL.trim().replace(/;?$/, ';') + '\n');
