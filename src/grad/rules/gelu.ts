/**
 * The exact GELU as torch.onnx.export writes it (opsets without a Gelu op), differentiated as one:
 *
 *   d = x / s  (or x · r),  a = erf(d) + c,  y = (x · a) · h          (s = √2, c = 1, h = 0.5)
 *   dy/dx = h · (a + x · k · exp(−d²)),  k = 2 / (√π · s)
 *
 * Op by op, the backward walk writes 10 full passes over the GELU's input — the largest
 * activation of a transformer block, 4× its width — for the two paths into x; this form takes
 * 7, reusing d and a from the forward pass and folding k into the exponent (k·e^(−d²) as
 * e^(ln k − d²)). The same derivative up to float32 rounding (test/grad/gelu.test.ts: against
 * a float64 GELU′ and against the op-by-op gradient). Only where the pattern's inner values feed
 * nothing else, so no other consumer loses the gradient it would have sent through them.
 */
import type { Node } from '../../ir/graph.js';
import { floatsOf, isOp, scalarLike } from '../emit.js';
import type { GradContext, GradResult } from '../types.js';

/** The scalar value of a constant input, else undefined. */
function scalarOf(ctx: GradContext, name: string): number | undefined {
  const v = floatsOf(ctx, name);
  return v && v.length === 1 && Number.isFinite(v[0]) ? v[0] : undefined;
}

/** For a binary node reading `value` and a constant scalar: that scalar, else undefined. */
function otherScalar(ctx: GradContext, node: Node, value: string): number | undefined {
  if (node.inputs.length !== 2) return undefined;
  const i = node.inputs.indexOf(value);
  return i < 0 ? undefined : scalarOf(ctx, node.inputs[1 - i]);
}

interface Gelu {
  x: string;
  d: string;
  a: string;
  /** x / s = x · (1/s). */
  invS: number;
  h: number;
}

/** The pattern ending at `ctx.node` (the multiplication by h), or undefined. */
function match(ctx: GradContext): Gelu | undefined {
  const { node } = ctx;
  if (!isOp(node, 'Mul') || node.inputs.length !== 2) return undefined;
  for (const hi of [0, 1]) {
    const m1 = ctx.producer(node.inputs[1 - hi]);
    const h = isOp(m1, 'Mul') && m1.inputs.length === 2 ? scalarOf(ctx, node.inputs[hi]) : undefined;
    if (h === undefined) continue;
    for (const xi of [0, 1]) {
      const x = m1!.inputs[xi];
      const add = ctx.producer(m1!.inputs[1 - xi]);
      if (!isOp(add, 'Add') || add.inputs.length !== 2) continue;
      for (const ei of [0, 1]) {
        const erf = ctx.producer(add.inputs[ei]);
        if (!isOp(erf, 'Erf') || scalarOf(ctx, add.inputs[1 - ei]) === undefined) continue;
        const div = ctx.producer(erf.inputs[0]);
        if (!div || div.inputs[0] !== x) continue;
        const c = isOp(div, 'Div') ? scalarOf(ctx, div.inputs[1]) : isOp(div, 'Mul') ? otherScalar(ctx, div, x) : undefined;
        if (c === undefined || c === 0) continue;
        // Nothing else may read the values inside the pattern: they get no gradient of their own.
        const inner = [div.outputs[0], erf.outputs[0], add.outputs[0], m1!.outputs[0]];
        if (!inner.every((v) => ctx.reads(v) === 1)) return undefined;
        return { x, d: div.outputs[0], a: add.outputs[0], invS: div.opType === 'Div' ? 1 / c : c, h };
      }
    }
  }
  return undefined;
}

/** The fused gradient when `ctx.node` ends an exact GELU, else undefined (the Mul rule applies). */
export function geluGrad(ctx: GradContext): GradResult | undefined {
  const p = match(ctx);
  const g = ctx.GO(0);
  if (!p || !g || !ctx.needsCaptured(p.x)) return undefined;
  const { b } = ctx;
  const c = (v: number) => scalarLike(ctx, p.x, v);
  const k = (2 / Math.sqrt(Math.PI)) * Math.abs(p.invS);
  // x·k·e^(−d²) with k's sign: d/dx erf(x·r) = r·2/√π·e^(−d²).
  const ke = b.op('Exp', [b.op('Sub', [c(Math.log(k)), b.op('Mul', [p.d, p.d])])]);
  const xke = b.op('Mul', [p.invS < 0 ? b.op('Neg', [p.x]) : p.x, ke]);
  const slope = b.op('Mul', [b.op('Add', [p.a, xke]), c(p.h)]);
  return { inputs: [null, null], captured: { [p.x]: b.op('Mul', [g, slope]) } };
}
