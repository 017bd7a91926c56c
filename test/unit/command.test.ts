// splitCommand: a --python value such as `poetry run python` becomes argv without a shell.
import { describe, expect, it } from 'vitest';
import { splitCommand } from '../../src/util/command.js';

describe('splitCommand', () => {
  it.each([
    { input: 'python3', argv: ['python3'] },
    { input: '/usr/bin/python3', argv: ['/usr/bin/python3'] },
    { input: 'poetry run python', argv: ['poetry', 'run', 'python'] },
    { input: 'uv run python', argv: ['uv', 'run', 'python'] },
    { input: '  env   PYTHONWARNINGS=ignore\t/usr/bin/python3  ', argv: ['env', 'PYTHONWARNINGS=ignore', '/usr/bin/python3'] },
    { input: '"/opt/my env/bin/python" -X dev', argv: ['/opt/my env/bin/python', '-X', 'dev'] },
    { input: "'/opt/my env/bin/python'", argv: ['/opt/my env/bin/python'] },
    { input: `"it's" 'say "hi"'`, argv: ["it's", 'say "hi"'] },
    { input: 'a"b c"d', argv: ['ab cd'] },
    { input: 'python ""', argv: ['python', ''] },
    { input: "python ''", argv: ['python', ''] },
    { input: 'python $HOME; rm -rf /', argv: ['python', '$HOME;', 'rm', '-rf', '/'] },
    { input: 'a\nb', argv: ['a', 'b'] },
    { input: '', argv: [] },
    { input: '   ', argv: [] },
  ])('$input', ({ input, argv }) => {
    expect(splitCommand(input)).toEqual(argv);
  });

  it('an unclosed quote runs to the end', () => {
    expect(splitCommand('"/opt/my env/bin/python')).toEqual(['/opt/my env/bin/python']);
  });
});
