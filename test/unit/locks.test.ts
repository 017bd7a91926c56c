// The locks judge on observed events (the shapes alembic_gate_worker/observe.py reports); the observation itself is
// tested on real migrations in test/integration/locks.test.ts.
import { describe, expect, it } from 'vitest';
import type { LockEvent } from '../../src/alembic/worker-client.js';
import { acknowledgements, judgeLocks } from '../../src/checks/locks.js';

const ev = (sql: string, locks: [string, string][], more: Partial<LockEvent> = {}): LockEvent => ({
  sql,
  file: 'migrations/versions/x.py',
  line: 10,
  locks: locks.map(([table, mode]) => ({ table, mode })),
  rewritten: [],
  afterExclusive: [],
  lockTimeout: '0',
  ...more,
});
const judge = (events: LockEvent[], phase: 'upgrade' | 'downgrade' = 'upgrade', text = '') =>
  judgeLocks([{ revision: 'r1', phase, events }], new Map([['r1', { file: 'migrations/versions/x.py', text }]]));
const rules = (events: LockEvent[], phase: 'upgrade' | 'downgrade' = 'upgrade') =>
  judge(events, phase).findings.map((f) => `${f.severity} ${/\((locks\/[a-z-]+)\)/.exec(f.message)?.[1]}`);

describe('judgeLocks', () => {
  it.each([
    ['CREATE INDEX ix ON users (name)', [['users', 'ShareLock']], ['error locks/index-not-concurrent']],
    ['CREATE INDEX CONCURRENTLY ix ON users (name)', [['users', 'ShareUpdateExclusiveLock']], []],
    ['ALTER TABLE users ALTER COLUMN name SET NOT NULL', [['users', 'AccessExclusiveLock']], ['error locks/set-not-null-scan']],
    ['ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY(user_id) REFERENCES users (id)', [['orders', 'ShareRowExclusiveLock']], ['error locks/validated-constraint']],
    ['ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY(user_id) REFERENCES users (id) NOT VALID', [['orders', 'ShareRowExclusiveLock']], []],
    ['ALTER TABLE users ADD CONSTRAINT uq UNIQUE (email)', [['users', 'AccessExclusiveLock']], ['error locks/unique-constraint-build']],
    ['ALTER TABLE users ADD CONSTRAINT uq UNIQUE USING INDEX ix', [['users', 'AccessExclusiveLock']], ['warning locks/no-lock-timeout']],
    ['ALTER TABLE users ADD COLUMN age INTEGER', [['users', 'AccessExclusiveLock']], ['warning locks/no-lock-timeout']],
    ['SELECT 1', [['users', 'AccessShareLock']], []],
  ] as [string, [string, string][], string[]][])('%s', (sql, locks, expected) => {
    expect(rules([ev(sql, locks)])).toEqual(expected);
  });

  it('a rewrite is said once, as a rewrite', () => {
    expect(rules([ev('ALTER TABLE users ALTER COLUMN id TYPE bigint', [['users', 'AccessExclusiveLock']], { rewritten: ['users'] })])).toEqual(['error locks/table-rewrite']);
  });

  it('a scan under a lock the transaction already holds is still a scan (the lock is held longer)', () => {
    const events = [
      ev('ALTER TABLE users ADD COLUMN nick VARCHAR(40)', [['users', 'AccessExclusiveLock']], { lockTimeout: '5s' }),
      ev('ALTER TABLE users ALTER COLUMN nick SET NOT NULL', [], { held: [{ table: 'users', mode: 'AccessExclusiveLock' }], afterExclusive: [0], lockTimeout: '5s' }),
    ];
    expect(rules(events)).toEqual(['error locks/set-not-null-scan']);
  });

  it('no lock_timeout warning when one is set', () => {
    expect(rules([ev('ALTER TABLE users ADD COLUMN age INTEGER', [['users', 'AccessExclusiveLock']], { lockTimeout: '5s' })])).toEqual([]);
  });

  it('an ACCESS EXCLUSIVE lock held while the transaction goes on to change data', () => {
    const events = [
      ev('ALTER TABLE users ADD COLUMN age INTEGER', [['users', 'AccessExclusiveLock']], { lockTimeout: '5s' }),
      ev('UPDATE orders SET total_cents = 0', [['orders', 'RowExclusiveLock']], { afterExclusive: [0], lockTimeout: '5s' }),
      ev("UPDATE alembic_version SET version_num='r1'", [], { afterExclusive: [0], lockTimeout: '5s' }),
    ];
    expect(rules(events)).toEqual(['warning locks/lock-held-across']);
  });

  it('a downgrade is held to what blocks for long only', () => {
    expect(rules([ev('DROP INDEX ix', [['users', 'AccessExclusiveLock']])], 'downgrade')).toEqual([]);
    expect(rules([ev('CREATE INDEX ix ON users (name)', [['users', 'ShareLock']])], 'downgrade')).toEqual(['error locks/index-not-concurrent']);
  });

  it('an acknowledgement needs a reason', () => {
    const e = [ev('CREATE INDEX ix ON users (name)', [['users', 'ShareLock']])];
    const acked = judge(e, 'upgrade', '# alembic-gate: allow locks/index-not-concurrent: a lookup table of 12 rows\n');
    expect(acked.status).toBe('pass');
    expect(acked.findings.map((f) => f.severity)).toEqual(['notice']);
    const bare = judge(e, 'upgrade', 'x = 1\n# alembic-gate: allow locks/index-not-concurrent\n');
    expect(bare.status).toBe('fail');
    expect(bare.findings[0]!.detail).toContain('The acknowledgement on line 2 gives no reason, so it does not count');
  });

  it('reads acknowledgements with their lines', () => {
    expect(acknowledgements('a\n  # alembic-gate: allow locks/table-rewrite: nightly window\n')).toEqual([{ rule: 'table-rewrite', reason: 'nightly window', line: 2 }]);
  });
});
