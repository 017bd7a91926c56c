import { describe, expect, it } from 'vitest';
import { renderText } from '../../src/report/text.js';
import { failingReport, hostileReport } from '../helpers/sample-reports.js';


describe('renderText', () => {
  it('uses ANSI colour only when asked', () => {
    expect(renderText(failingReport(), { color: false })).not.toContain('\u001b[');
    expect(renderText(failingReport(), { color: true })).toContain('\u001b[31m');
  });
  it('shows findings with revision and file:line', () => {
    expect(renderText(failingReport(), { color: false })).toContain(
      'error  0f9e8d7c6b5a  migrations/versions/0f9e8d7c6b5a_add_users_nickname.py:24  downgrade of 0f9e8d7c6b5a leaves column users.nickname behind',
    );
  });
  it('lets no control sequence from the repository reach the terminal', () => {
    const r = hostileReport();
    r.checks[0]!.summary = 'x\u001b]0;pwned\u0007\u001b[2J';
    const out = renderText(r, { color: false });
    expect(out).not.toContain('\u001b');
    expect(out).not.toContain('\u0007');
  });
});
