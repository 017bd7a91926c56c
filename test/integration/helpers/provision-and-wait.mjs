// Test helper: provision a throwaway database with the db layer (bundled by the test into an
// .mjs file given as argv[2]), print one JSON line describing it, then:
//   wait  - stay alive until a signal arrives (the cleanup registry must clean up and exit 130/143)
//   exit  - call process.exit(0) without dispose() (the synchronous exit fallback must clean up)
//   drain - return without dispose(), letting the event loop drain (beforeExit must clean up)
// usage: node provision-and-wait.mjs <bundle.mjs> <provider> <mode> [databaseUrl]
const [bundle, provider, mode, databaseUrl] = process.argv.slice(2);
const db = await import(bundle);
const { db: database } = await db.provisionDatabase({ provider, databaseUrl });
process.stdout.write(
  JSON.stringify({
    provider: database.provider,
    serverPid: database.serverPid ?? null,
    tempDir: database.tempDir ?? null,
    database: database.connection.database,
    helperPid: process.pid,
  }) + '\n',
);
if (mode === 'wait') setInterval(() => {}, 1000);
else if (mode === 'exit') process.exit(0);
