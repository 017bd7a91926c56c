// Golden files: rendered reports committed under test/__outputs__ so a rendering change is a
// readable diff. UPDATE_GOLDEN=1 (re)writes them; otherwise the output must match exactly.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const OUTPUTS = join(dirname(fileURLToPath(import.meta.url)), '..', '__outputs__');

export function expectGolden(name: string, actual: string): void {
  const file = join(OUTPUTS, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== '1') {
      throw new Error(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 to write it, then review it`);
    }
    mkdirSync(OUTPUTS, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}
