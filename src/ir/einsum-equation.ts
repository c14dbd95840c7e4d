/**
 * Einsum equations, read once for the shape rule and the gradient rule: one list of single-letter
 * subscripts per operand and for the result, with the ellipsis written out as letters the
 * equation does not use (right-aligned, as broadcasting aligns it) and the implicit form
 * ("ij,jk", no "->") given its output (letters used once, in alphabetical order).
 */
import { GraphError } from '../errors.js';

export interface EinsumEquation {
  inputs: string[][];
  output: string[];
}

const LETTER = /^[A-Za-z]$/;

/** Splits one term into letters and '...' tokens. */
function terms(term: string, equation: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < term.length; i++) {
    if (term.startsWith('...', i)) {
      out.push('...');
      i += 2;
    } else if (LETTER.test(term[i])) out.push(term[i]);
    else throw new GraphError(`Einsum equation '${equation}' has '${term[i]}', which is not a subscript letter or '...'`);
  }
  return out;
}

/** `ranks`: each operand's rank, needed only when the equation has an ellipsis. */
export function parseEinsum(equation: string, ranks: (number | undefined)[]): EinsumEquation {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.includes('->') ? eq.split('->') : [eq, undefined];
  const inputs = lhs.split(',').map((t) => terms(t, equation));
  if (inputs.length !== ranks.length) throw new GraphError(`Einsum equation '${equation}' has ${inputs.length} operands, the node ${ranks.length}`);
  let output: string[];
  if (rhs !== undefined) output = terms(rhs, equation);
  else {
    const counts = new Map<string, number>();
    for (const t of inputs.flat()) if (t !== '...') counts.set(t, (counts.get(t) ?? 0) + 1);
    output = [...counts].filter(([, n]) => n === 1).map(([t]) => t).sort();
    if (inputs.some((t) => t.includes('...'))) output.unshift('...');
  }
  const all = [...inputs, output];
  if (!all.some((t) => t.includes('...'))) return { inputs, output };
  const used = new Set(all.flat());
  const spare = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].filter((c) => !used.has(c));
  const widths = inputs.map((t, i) => {
    if (!t.includes('...')) return 0;
    const r = ranks[i];
    if (r === undefined) throw new GraphError(`Einsum equation '${equation}' has an ellipsis, which needs the rank of operand ${i}; give the model's inputs shapes`);
    return r - (t.length - 1);
  });
  const width = Math.max(0, ...widths);
  const letters = spare.slice(0, width);
  const expand = (t: string[], w: number) => t.flatMap((s) => (s === '...' ? letters.slice(width - w) : [s]));
  return { inputs: inputs.map((t, i) => expand(t, widths[i])), output: expand(output, width) };
}

export const einsumString = (inputs: string[][], output: string[]): string => `${inputs.map((t) => t.join('')).join(',')}->${output.join('')}`;
