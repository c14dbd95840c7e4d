/** Gradient of Pad: constant, reflect and edge modes, pads as input (opset 11+) or attribute. */
import { GraphError } from '../../errors.js';
import { attrInts, attrString } from '../../ir/attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor } from '../../onnx/tensor.js';
import { elemTypeOrThrow, ifNeeded, int64s, reduceSum, reshapeLike, shapeOf } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';

/**
 * The adjoint of a constant pad is the pad by the negated amounts: what was added is cut off and
 * what was cropped (a negative pad) comes back as zeros. Works with pads known only at run time.
 */
function unpad(ctx: GradContext, g: string): string {
  const { b, node } = ctx;
  if (ctx.opset < 11) return b.op('Pad', [g], { pads: (attrInts(node, 'pads') ?? []).map((p) => -p), mode: 'constant' });
  const known = ctx.value(ctx.I(1));
  const negated = known ? int64s(ctx, known.map((p) => -p)) : b.op('Neg', [ctx.I(1)]);
  return b.op('Pad', [g, negated, ...(ctx.I(3) ? ['', ctx.I(3)] : [])], { mode: 'constant' });
}

/**
 * Reflect and edge pads copy some inputs to several outputs. The forward Pad is replayed on the
 * flat positions 0..n-1 of X, which yields for each output the input it was copied from (negative
 * pads, the axes input and pads known only at run time included, exactly as the runtime pads),
 * and the output gradient is scatter-added there: ScatterElements' reduction arrived in opset 16.
 */
function scatterBack(ctx: GradContext, g: string, mode: string): string {
  const { b, node } = ctx;
  const X = ctx.I(0);
  if (ctx.opset < 16)
    throw new GraphError(`the gradient of Pad '${node.name ?? ''}' in ${mode} mode needs ScatterElements with reduction (opset 16); the model has opset ${ctx.opset}, convert it to opset 16 or later`);
  const size = b.op('Size', [X]);
  const [zero, one] = [0, 1].map((v) => b.constant('grad/i', DataType.INT64, [], [v]));
  const positions = b.op('Reshape', [b.op('Range', [zero, size, one]), shapeOf(ctx, X)]);
  const source = b.op('Pad', [positions, ctx.I(1), ...(ctx.I(3) ? ['', ctx.I(3)] : [])], { mode });
  const flat = (v: string) => b.op('Reshape', [v, int64s(ctx, [-1])]);
  const zeros = b.op('ConstantOfShape', [b.op('Reshape', [size, int64s(ctx, [1])])], { value: makeTensor('', elemTypeOrThrow(ctx, X, 'the gradient of Pad'), [1], [0]) });
  const scattered = b.op('ScatterElements', [zeros, flat(source), flat(g)], { axis: 0, reduction: 'add' });
  return b.op('Reshape', [scattered, shapeOf(ctx, X)]);
}

/**
 * Y = Pad(X). dX gathers back each output's gradient (summed where an input was copied more than
 * once); the constant value's gradient is the sum over the padded positions: Σ dY − Σ dX.
 */
export const padGrad: GradRule = {
  opType: 'Pad',
  backward: (ctx) => {
    const { b, node } = ctx;
    const g = ctx.GO(0)!;
    const mode = attrString(node, 'mode', 'constant');
    if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge')
      throw new GraphError(`Pad '${node.name ?? ''}' has mode '${mode}', which has no gradient rule (constant, reflect and edge do)`);
    let dx: string | undefined;
    const gradX = () => (dx ??= mode === 'constant' ? unpad(ctx, g) : scatterBack(ctx, g, mode));
    const valueGrad = () => {
      const outside = b.op('Sub', [reduceSum(ctx, g, undefined, false), reduceSum(ctx, gradX(), undefined, false)]);
      return reshapeLike(ctx, outside, ctx.I(2));
    };
    return [ifNeeded(ctx, 0, gradX), null, mode === 'constant' ? ifNeeded(ctx, 2, valueGrad) : null, null];
  },
};
