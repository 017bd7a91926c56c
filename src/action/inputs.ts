// The action's inputs (action.yml), read in one place into one typed, validated object.
// `readInputs()` is the only reader of `core.getInput`: it reads every input of the options table
// (src/options/spec.ts); `parseInputs()` is the pure validation behind it, the parser the command
// line uses too. A bad value fails with a message that names the input and the accepted values.
import * as core from '@actions/core';
import { parseOptions, type RawOptions } from '../options/parse.js';
import { OPTION_LIST, type ActionInputs } from '../options/spec.js';

export type { ActionInputs, CommentMode } from '../options/spec.js';

/** Raw input strings keyed by input name, as the runner passes them (empty string = not set). */
export type RawInputs = Readonly<Record<string, string>>;

/** The names of the action's inputs, in the table's order. */
export const INPUT_NAMES: readonly string[] = OPTION_LIST.flatMap((s) => (s.input ? [s.input.name] : []));

/** Reads every input of action.yml. */
export function readInputs(): ActionInputs {
  return parseInputs(Object.fromEntries(INPUT_NAMES.map((name) => [name, core.getInput(name)])));
}

/** Validates raw inputs; values are trimmed as core.getInput trims them. */
export function parseInputs(raw: RawInputs): ActionInputs {
  const trimmed: RawOptions = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, (v ?? '').trim()]));
  return parseOptions('action', trimmed);
}
