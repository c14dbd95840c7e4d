/**
 * Parameter groups: which parameters get weight decay, which are frozen. Patterns are
 * JavaScript regular expressions matched against the parameter name (anywhere in it, like
 * `re.search`); anchor them with ^...$ to match whole names.
 */
import { UsageError } from '../errors.js';
import type { ParamGroup } from '../ir/program.js';

export type { ParamGroup };

export interface GroupPatterns {
  /** Parameters matching get no weight decay (e.g. "bias|norm"). */
  noDecay?: string;
  /** Parameters matching get no update at all. */
  frozen?: string;
}

function compile(pattern: string | undefined, flag: string): RegExp | null {
  if (pattern === undefined || pattern === '') return null;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new UsageError(`${flag} '${pattern}' is not a valid regular expression: ${(e as Error).message}`);
  }
}

export function assignGroups(params: string[], patterns: GroupPatterns): Map<string, ParamGroup> {
  const frozen = compile(patterns.frozen, '--frozen');
  const noDecay = compile(patterns.noDecay, '--no-decay');
  const groups = new Map<string, ParamGroup>();
  for (const p of params) groups.set(p, frozen?.test(p) ? 'frozen' : noDecay?.test(p) ? 'no_decay' : 'decay');
  if (params.length && [...groups.values()].every((g) => g === 'frozen'))
    throw new UsageError(`--frozen '${patterns.frozen}' freezes all ${params.length} parameters, so nothing would train; narrow the pattern`);
  return groups;
}
