import { describe, expect, it } from 'vitest';
import { redactDeep, redactText, secretList } from '../../src/report/redact.js';

describe('redaction', () => {
  it('collects the token, URL passwords (raw and decoded) and long guessed values, longest first', () => {
    expect(secretList({ known: ['ghs_token123', undefined, 'abc'], urls: ['postgresql://u:p%40ss-word@h/db', 'not a url'], guessed: ['short', 'a-long-secret-value'] })).toEqual([
      'a-long-secret-value',
      'ghs_token123',
      'p%40ss-word',
      'p@ss-word',
    ]);
  });

  it('replaces every occurrence in every string of a report, keys included', () => {
    const secrets = secretList({ known: ['ghs_token123'], guessed: ['ghs_token123456789'] });
    expect(redactText('a ghs_token123456789 b ghs_token123', secrets)).toBe('a *** b ***');
    const report = { status: 'fail', n: 1, ok: true, checks: [{ findings: [{ message: 'env: ghs_token123', detail: null }] }], map: { ghs_token123: 'x' } };
    expect(redactDeep(report, secrets)).toEqual({ status: 'fail', n: 1, ok: true, checks: [{ findings: [{ message: 'env: ***', detail: null }] }], map: { '***': 'x' } });
  });
});
