// action.yml, the code and the README must agree: every declared input is read, every read input
// is declared, every output is set, and the README's tables list them all. The inputs are read
// from the options table (src/options/spec.ts); test/unit/options.test.ts compares it with
// action.yml in detail (defaults, descriptions).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Node, Project, SyntaxKind } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import { INPUT_NAMES } from '../../src/action/inputs.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Keys of a top-level mapping (`inputs:` / `outputs:`) in action.yml: the two-space-indented names under it. */
function actionYmlKeys(section: 'inputs' | 'outputs'): string[] {
  const lines = readFileSync(join(ROOT, 'action.yml'), 'utf8').split('\n');
  const keys: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (/^\S/.test(line)) inside = line.startsWith(`${section}:`);
    else if (inside) {
      const m = /^ {2}([A-Za-z0-9_-]+):/.exec(line);
      if (m) keys.push(m[1]!);
    }
  }
  return keys;
}

/** String literals passed to core.<method>(...) in a source file. */
function literalCalls(file: string, methods: string[]): string[] {
  const project = new Project({ skipAddingFilesFromTsConfig: true });
  const source = project.addSourceFileAtPath(join(ROOT, file));
  const names: string[] = [];
  for (const call of source.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    const callee = call.getExpression();
    if (!Node.isPropertyAccessExpression(callee)) continue;
    if (callee.getExpression().getText() !== 'core' || !methods.includes(callee.getName())) continue;
    const arg = call.getArguments()[0];
    if (arg && (Node.isStringLiteral(arg) || Node.isNoSubstitutionTemplateLiteral(arg))) names.push(arg.getLiteralValue());
    else throw new Error(`${file}: core.${callee.getName()} called with a non-literal name: ${call.getText()}`);
  }
  return names;
}

/** Names in the first column (`name`) of the markdown table under a heading that mentions `word`. */
function tableNames(markdown: string, word: 'Inputs' | 'Outputs'): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.includes(word));
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,4} /.test(line)) break;
    const m = /^\|\s*`([A-Za-z0-9_-]+)`\s*\|/.exec(line);
    if (m) names.push(m[1]!);
  }
  return names;
}

const declaredInputs = actionYmlKeys('inputs');
const declaredOutputs = actionYmlKeys('outputs');
const readInputs = [...INPUT_NAMES];
const setOutputs = literalCalls('src/main.ts', ['setOutput']);

function missing(expected: string[], actual: string[]): string[] {
  return expected.filter((n) => !actual.includes(n));
}

describe('action interface', () => {
  it('action.yml has inputs and outputs', () => {
    expect(declaredInputs.length).toBeGreaterThan(10);
    expect(declaredOutputs).toEqual(['status', 'report', 'drift']);
  });

  it('every declared input is read, and every read input is declared', () => {
    expect({ declaredButNotRead: missing(declaredInputs, readInputs), readButNotDeclared: missing(readInputs, declaredInputs) }).toEqual({
      declaredButNotRead: [],
      readButNotDeclared: [],
    });
  });

  it('every declared output is set, and every set output is declared', () => {
    expect({ declaredButNotSet: missing(declaredOutputs, setOutputs), setButNotDeclared: missing(setOutputs, declaredOutputs) }).toEqual({
      declaredButNotSet: [],
      setButNotDeclared: [],
    });
  });

  it('only the entry points and the GitHub adapter import @actions/*', () => {
    const project = new Project({ tsConfigFilePath: join(ROOT, 'tsconfig.json'), skipAddingFilesFromTsConfig: true });
    project.addSourceFilesAtPaths(join(ROOT, 'src/**/*.ts'));
    const allowed = /^src\/(main\.ts|index\.ts|cli\.ts|action\/inputs\.ts|github\/.*)$/;
    const offenders = project
      .getSourceFiles()
      .filter((f) => f.getImportDeclarations().some((d) => d.getModuleSpecifierValue().startsWith('@actions/')))
      .map((f) => f.getFilePath().slice(ROOT.length + 1))
      .filter((p) => !allowed.test(p));
    expect(offenders).toEqual([]);
  });

  for (const doc of ['README.md']) {
    it(`${doc} documents every input and output`, () => {
      const path = join(ROOT, doc);
      expect(existsSync(path), `${doc} does not exist`).toBe(true);
      const md = readFileSync(path, 'utf8');
      const undocumented = {
        inputs: missing(declaredInputs, tableNames(md, 'Inputs')),
        outputs: missing(declaredOutputs, tableNames(md, 'Outputs')),
      };
      if (undocumented.inputs.length || undocumented.outputs.length) {
        console.error(`${doc} lacks rows for: ${JSON.stringify(undocumented)}`);
      }
      expect(undocumented).toEqual({ inputs: [], outputs: [] });
    });
  }
});
