/** Gradient of Einsum: each operand's gradient is another Einsum, of dY with the other operands. */
import { GraphError } from '../../errors.js';
import { attrString } from '../../ir/attributes.js';
import { einsumString, parseEinsum } from '../../ir/einsum-equation.js';
import { ifNeeded, shapeOf, unsqueeze } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';

/** Refuses what the rule does not differentiate: a letter repeated in one operand, a size-1 dim broadcast. */
function check(ctx: GradContext, equation: string, inputs: string[][]): void {
  const where = `Einsum '${ctx.node.name ?? ''}' ('${equation}')`;
  for (const letters of inputs)
    if (new Set(letters).size !== letters.length)
      throw new GraphError(`the gradient of ${where} is not supported: an operand repeats a subscript (a diagonal, as in 'ii->i'); write the diagonal with other ops`);
  const dims = new Map<string, Set<number>>();
  inputs.forEach((letters, i) =>
    letters.forEach((l, j) => {
      const d = ctx.shape(ctx.I(i))?.[j];
      if (typeof d === 'number') dims.set(l, (dims.get(l) ?? new Set()).add(d));
    }),
  );
  for (const [l, ds] of dims)
    if (ds.size > 1) throw new GraphError(`the gradient of ${where} is not supported: subscript '${l}' broadcasts sizes ${[...ds].join(' and ')}; expand the operand first`);
}

/**
 * dL/dA for operand A of Y = einsum(A, B, ...): dY's subscripts and the other operands' contract to
 * A's subscripts. Subscripts only A has (summed away in the forward pass) appear in no other
 * term, so the result lacks them and is broadcast back along them. A scalar dY multiplies the
 * contraction of the others instead of entering it.
 */
function operandGrad(ctx: GradContext, k: number, inputs: string[][], output: string[]): string {
  const { b } = ctx;
  const g = ctx.GO(0)!;
  const others = inputs.map((_, j) => j).filter((j) => j !== k);
  const seen = new Set([...output, ...others.flatMap((j) => inputs[j])]);
  const target = inputs[k].filter((l) => seen.has(l));
  const terms = [...(output.length ? [output] : []), ...others.map((j) => inputs[j])];
  const operands = [...(output.length ? [g] : []), ...others.map((j) => ctx.I(j))];
  let r = operands.length ? b.op('Einsum', operands, { equation: einsumString(terms, target) }) : g;
  if (!output.length && others.length) r = b.op('Mul', [r, g]);
  const missing = inputs[k].flatMap((l, i) => (seen.has(l) ? [] : [i]));
  if (missing.length) r = b.op('Expand', [unsqueeze(ctx, r, missing), shapeOf(ctx, ctx.I(k))]);
  return r;
}

export const einsumGrad: GradRule = {
  opType: 'Einsum',
  backward: (ctx) => {
    const { node } = ctx;
    const equation = attrString(node, 'equation');
    if (equation === undefined) throw new GraphError(`Einsum '${node.name ?? ''}' has no equation, which ONNX requires`);
    const { inputs, output } = parseEinsum(equation, node.inputs.map((x) => ctx.shape(x)?.length));
    check(ctx, equation, inputs);
    return node.inputs.map((_, k) => ifNeeded(ctx, k, () => operandGrad(ctx, k, inputs, output)));
  },
};
