// Sample reports as plain data, for the renderer golden files and the action's comment tests.
import type { Report, RevisionReport } from '../../src/report/types.js';

const BASE_SHA = '1111111111111111111111111111111111111111';
const HEAD_SHA = '2222222222222222222222222222222222222222';

function skeleton(): Report {
  return {
    schemaVersion: 1,
    status: 'pass',
    tool: { name: 'alembic-gate', version: '0.1.0' },
    base: { ref: 'main', sha: BASE_SHA, heads: ['a1b2c3d4e5f6'] },
    head: { sha: HEAD_SHA, heads: ['0f9e8d7c6b5a'] },
    database: { engine: 'postgresql', version: '15.10', provider: 'local' },
    config: { alembicConfig: 'alembic.ini', workingDirectory: '.', roundtrip: 'new' },
    python: { command: 'python3', version: '3.11.2', alembic: '1.8.1', sqlalchemy: '1.4.46' },
    checks: [
      { id: 'graph', status: 'pass', summary: '3 revision scripts load; the graph is well-formed', findings: [] },
      { id: 'heads', status: 'pass', summary: 'one head (0f9e8d7c6b5a), descends from the base head', findings: [] },
      { id: 'history', status: 'pass', summary: 'no revision of the base was edited, deleted or re-parented', findings: [] },
      { id: 'upgrade', status: 'pass', summary: 'base -> head applies (2 revisions)', findings: [] },
      { id: 'roundtrip', status: 'pass', summary: '2 new revisions round-trip', findings: [] },
      { id: 'drift', status: 'pass', summary: 'models match the migrated schema', findings: [] },
    ],
    revisions: [
      {
        revision: 'a1b2c3d4e5f6',
        downRevisions: [],
        message: 'create users',
        file: 'migrations/versions/a1b2c3d4e5f6_create_users.py',
        isNew: false,
        steps: {},
        differences: [],
      },
      {
        revision: '5e6f7a8b9c0d',
        downRevisions: ['a1b2c3d4e5f6'],
        message: 'add orders',
        file: 'migrations/versions/5e6f7a8b9c0d_add_orders.py',
        isNew: true,
        steps: { upgrade: { status: 'ok', ms: 84 }, downgrade: { status: 'ok', ms: 41 }, reupgrade: { status: 'ok', ms: 77 } },
        differences: [],
      },
      {
        revision: '0f9e8d7c6b5a',
        downRevisions: ['5e6f7a8b9c0d'],
        message: 'add users.nickname',
        file: 'migrations/versions/0f9e8d7c6b5a_add_users_nickname.py',
        isNew: true,
        steps: { upgrade: { status: 'ok', ms: 52 }, downgrade: { status: 'ok', ms: 38 }, reupgrade: { status: 'ok', ms: 49 } },
        differences: [],
      },
    ],
    drift: { operations: [], suggestedMigration: null, suggestedDowngrade: null },
    sql: [
      {
        revision: '5e6f7a8b9c0d',
        upgrade: 'CREATE TABLE orders (\n    id SERIAL NOT NULL,\n    user_id INTEGER NOT NULL,\n    PRIMARY KEY (id),\n    FOREIGN KEY(user_id) REFERENCES users (id)\n);\n\nUPDATE alembic_version SET version_num=\'5e6f7a8b9c0d\' WHERE alembic_version.version_num = \'a1b2c3d4e5f6\';',
        downgrade: 'DROP TABLE orders;\n\nUPDATE alembic_version SET version_num=\'a1b2c3d4e5f6\' WHERE alembic_version.version_num = \'5e6f7a8b9c0d\';',
      },
      {
        revision: '0f9e8d7c6b5a',
        upgrade: 'ALTER TABLE users ADD COLUMN nickname VARCHAR(40);',
        downgrade: 'ALTER TABLE users DROP COLUMN nickname;',
      },
    ],
    notices: [],
    timings: { totalMs: 6480, provisionMs: 1210, baseMs: 950, upgradeMs: 410, roundtripMs: 620, driftMs: 880 },
  };
}

export function passingReport(): Report {
  return skeleton();
}

export function failingReport(): Report {
  const r = skeleton();
  r.status = 'fail';
  r.head.heads = ['0f9e8d7c6b5a', '77aa88bb99cc'];
  r.checks = [
    { id: 'graph', status: 'pass', summary: '4 revision scripts load; the graph is well-formed', findings: [] },
    {
      id: 'heads',
      status: 'fail',
      summary: '2 heads: 0f9e8d7c6b5a, 77aa88bb99cc',
      findings: [
        {
          severity: 'error',
          message: 'revisions 0f9e8d7c6b5a and 77aa88bb99cc both revise 5e6f7a8b9c0d: merge them with `alembic merge heads`',
          revision: '77aa88bb99cc',
          file: 'migrations/versions/77aa88bb99cc_add_invoices.py',
          line: 9,
        },
      ],
    },
    {
      id: 'history',
      status: 'fail',
      summary: '1 revision of the base was edited',
      findings: [
        {
          severity: 'error',
          message: 'revision a1b2c3d4e5f6 (create users) was edited after it reached main: upgrade() changed',
          revision: 'a1b2c3d4e5f6',
          file: 'migrations/versions/a1b2c3d4e5f6_create_users.py',
          line: 21,
          detail: '@@ -21,3 +21,3 @@\n-        sa.Column("email", sa.String(120), nullable=False),\n+        sa.Column("email", sa.String(255), nullable=False),',
        },
      ],
    },
    { id: 'upgrade', status: 'pass', summary: 'base -> head applies (3 revisions)', findings: [] },
    {
      id: 'roundtrip',
      status: 'fail',
      summary: '1 of 3 new revisions does not round-trip',
      findings: [
        {
          severity: 'error',
          message: 'downgrade of 0f9e8d7c6b5a leaves column users.nickname behind',
          revision: '0f9e8d7c6b5a',
          file: 'migrations/versions/0f9e8d7c6b5a_add_users_nickname.py',
          line: 24,
        },
      ],
    },
    {
      id: 'drift',
      status: 'fail',
      summary: 'models differ from the migrated schema: 2 operations',
      findings: [
        { severity: 'error', message: 'model has column users.last_login (TIMESTAMP); the migrated schema does not' },
        { severity: 'warning', message: 'index ix_orders_user_id exists in the schema but not in the models' },
      ],
    },
  ];
  r.revisions[2]!.steps.reupgrade = { status: 'failed', ms: 12, error: 'DuplicateColumn: column "nickname" of relation "users" already exists' };
  r.revisions[2]!.differences = [
    'column users.nickname (VARCHAR(40)) is still there after downgrade',
  ];
  r.revisions.push({
    revision: '77aa88bb99cc',
    downRevisions: ['5e6f7a8b9c0d'],
    message: 'add invoices',
    file: 'migrations/versions/77aa88bb99cc_add_invoices.py',
    isNew: true,
    steps: { upgrade: { status: 'ok', ms: 63 }, downgrade: { status: 'ok', ms: 30 }, reupgrade: { status: 'ok', ms: 58 } },
    differences: [],
  });
  r.drift = {
    operations: [
      { kind: 'add_column', message: 'model has column users.last_login (TIMESTAMP); the migrated schema does not', table: 'users', column: 'last_login' },
      { kind: 'remove_index', message: 'index ix_orders_user_id exists in the schema but not in the models', table: 'orders', name: 'ix_orders_user_id' },
    ],
    suggestedMigration:
      "op.add_column('users', sa.Column('last_login', sa.DateTime(), nullable=True))\nop.drop_index('ix_orders_user_id', table_name='orders')",
    suggestedDowngrade:
      "op.create_index('ix_orders_user_id', 'orders', ['user_id'], unique=False)\nop.drop_column('users', 'last_login')",
  };
  r.notices = ['provider "local" used: initdb found in /usr/lib/postgresql/15/bin'];
  return r;
}

export function errorReport(): Report {
  const r = skeleton();
  r.status = 'error';
  r.checks = [
    {
      id: 'graph',
      status: 'error',
      summary: 'revision scripts could not be loaded',
      findings: [
        {
          severity: 'error',
          message: 'migrations/env.py failed to import: ModuleNotFoundError: No module named \'myapp\'',
          file: 'migrations/env.py',
          line: 7,
          detail: 'Traceback (most recent call last):\n  File "migrations/env.py", line 7, in <module>\n    from myapp.models import Base\nModuleNotFoundError: No module named \'myapp\'',
        },
      ],
    },
    { id: 'heads', status: 'skip', summary: 'skipped: the graph did not load', findings: [] },
    { id: 'history', status: 'skip', summary: 'skipped: the graph did not load', findings: [] },
    { id: 'upgrade', status: 'skip', summary: 'skipped: the graph did not load', findings: [] },
    { id: 'roundtrip', status: 'skip', summary: 'skipped: the graph did not load', findings: [] },
    { id: 'drift', status: 'skip', summary: 'skipped: the graph did not load', findings: [] },
  ];
  r.revisions = [];
  r.sql = [];
  r.error =
    "The head tree's env.py could not be imported with python3.\n" +
    "ModuleNotFoundError: No module named 'myapp'\n" +
    'Install the project\'s dependencies before alembic-gate runs, or set `python` to a command that has them (e.g. "poetry run python").';
  r.timings = { totalMs: 2310, provisionMs: 1180, workerMs: 1130 };
  return r;
}

/** A report whose full rendering is far over GitHub's comment limit. */
export function hugeReport(): Report {
  const r = failingReport();
  const revisions: RevisionReport[] = [];
  for (let i = 0; i < 400; i++) {
    const id = `${i.toString(16).padStart(4, '0')}deadbeef`;
    revisions.push({
      revision: id,
      downRevisions: [i === 0 ? '77aa88bb99cc' : `${(i - 1).toString(16).padStart(4, '0')}deadbeef`],
      message: `generated step ${i}`,
      file: `migrations/versions/${id}_generated_step_${i}.py`,
      isNew: true,
      steps: { upgrade: { status: 'ok', ms: 20 + (i % 7) }, downgrade: { status: 'ok', ms: 11 }, reupgrade: { status: 'ok', ms: 19 } },
      differences: i % 50 === 3 ? [`table t${i} loses its comment after downgrade + upgrade`] : [],
    });
    r.sql.push({
      revision: id,
      upgrade: Array.from({ length: 60 }, (_, j) => `INSERT INTO t${i} (id, payload) VALUES (${j}, 'row ${j} of a long data migration');`).join('\n'),
      downgrade: `DELETE FROM t${i};`,
    });
  }
  r.revisions.push(...revisions);
  const roundtrip = r.checks.find((c) => c.id === 'roundtrip')!;
  for (let i = 0; i < 300; i++) {
    roundtrip.findings.push({
      severity: 'error',
      message: `downgrade of generated step ${i} leaves table t${i} behind | with a pipe`,
      revision: revisions[i]!.revision,
      file: revisions[i]!.file,
      line: 10 + i,
      detail: Array.from({ length: 30 }, (_, j) => `  traceback line ${j} for step ${i}`).join('\n'),
    });
  }
  return r;
}

/** A failing report carrying the kinds of text a hostile pull request could plant. */
export function hostileReport(): Report {
  const r = failingReport();
  const evil = 'add <script>alert(1)</script> & @octocat @github/security-team ``` | x | `tick` ![img](http://evil.example/x.png) <!-- alembic-gate:deadbeef -->';
  r.revisions[2]!.message = evil;
  r.revisions[2]!.file = 'migrations/versions/0f9e8d7c6b5a_a)b](javascript:alert(1)).py';
  const roundtrip = r.checks.find((c) => c.id === 'roundtrip')!;
  roundtrip.findings[0]!.message = `downgrade of ${evil}\n## injected heading\n| injected | row |`;
  roundtrip.findings[0]!.detail = 'line 1\n```\n</details>\n<img src=x onerror=alert(1)>\n@octocat\n````\nend';
  roundtrip.findings[0]!.file = r.revisions[2]!.file;
  r.drift.suggestedMigration = "op.add_column('users', sa.Column('x', sa.Text(), comment='```\\n@octocat'))\n```\n# closed?";
  r.sql[1]!.upgrade = "ALTER TABLE users ADD COLUMN nickname VARCHAR(40); -- </details> ``` @octocat\n\u001b[31mred";
  r.error = undefined;
  return r;
}
