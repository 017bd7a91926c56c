import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { initdbCacheRoot } from '../../src/engines/postgresql/initdb-cache.js';
import { scratchDir } from '../../src/util/scratch.js';

describe('where a throwaway cluster lives', () => {
  it('uses /dev/shm when it has room, an explicit TMPDIR otherwise, and the temp dir without shm', () => {
    expect(scratchDir({}, '/dev/shm')).toBe('/dev/shm'); // 24 GiB tmpfs on the test machine
    expect(scratchDir({ TMPDIR: '/var/tmp' }, '/dev/shm')).toBe(tmpdir());
    expect(scratchDir({ ALEMBIC_GATE_NO_SHM: '1' }, '/dev/shm')).toBe(tmpdir());
    expect(scratchDir({}, '/nonexistent/shm')).toBe(tmpdir());
  });

  it('keeps the initdb cache under ALEMBIC_GATE_CACHE_DIR, XDG_CACHE_HOME or ~/.cache, or nowhere when off', () => {
    expect(initdbCacheRoot({ ALEMBIC_GATE_CACHE_DIR: '/c' })).toBe('/c/initdb');
    expect(initdbCacheRoot({ ALEMBIC_GATE_CACHE_DIR: 'off' })).toBeNull();
    expect(initdbCacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/alembic-gate/initdb');
  });
});
