/**
 * Gradient of ConvTranspose (1-D to 3-D: strides, pads, output_padding, dilations, group, bias).
 * ConvTranspose is the adjoint of Conv in its input, so its own backward is Conv's forward and
 * Conv's weight gradient with the roles of input and output swapped.
 */
import { GraphError } from '../../errors.js';
import { attrInt, attrInts, attrString } from '../../ir/attributes.js';
import { isStatic } from '../../ir/shape-info.js';
import { ifNeeded, rankOrThrow, reduceSum } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';
import { weightGrad, type Window } from './conv.js';

function windowOf(ctx: GradContext, W: string, rank: number): Window {
  const { node } = ctx;
  const d = rank - 2;
  const where = `ConvTranspose '${node.name ?? ''}'`;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw new GraphError(`the gradient of ${where} supports auto_pad NOTSET and VALID, not ${autoPad}; give the node explicit pads`);
  if (attrInts(node, 'output_shape')) throw new GraphError(`the gradient of ${where} does not support the output_shape attribute; give the node pads and output_padding instead`);
  const kernel = attrInts(node, 'kernel_shape') ?? ctx.shape(W)?.slice(2);
  if (!isStatic(kernel) || kernel.length !== d) throw new GraphError(`the gradient of ${where} needs the kernel size: give the node kernel_shape or the weight '${W}' a static shape`);
  const strides = attrInts(node, 'strides') ?? new Array<number>(d).fill(1);
  const outPad = attrInts(node, 'output_padding') ?? [];
  if (outPad.some((p, i) => p >= strides[i])) throw new GraphError(`the gradient of ${where} needs output_padding below the stride (it has [${outPad}], strides [${strides}])`);
  return {
    kernel,
    strides,
    dilations: attrInts(node, 'dilations') ?? new Array<number>(d).fill(1),
    autoPad: 'NOTSET',
    pads: autoPad === 'NOTSET' ? (attrInts(node, 'pads') ?? new Array<number>(2 * d).fill(0)) : new Array<number>(2 * d).fill(0),
  };
}

/**
 * Y = ConvTranspose(X, W) + B, W laid out [C, M/group, k...]. The same W read as a Conv weight
 * ([out C, in M/group, k...]) maps dY back: dX = Conv(dY, W) with the node's strides, dilations,
 * pads and group; its output has X's size because output_padding < stride. ⟨dY, ConvT(X, W)⟩ =
 * ⟨Conv(dY, W), X⟩, so dW is the weight gradient of that Conv with X as the gradient arriving.
 */
export const convTransposeGrad: GradRule = {
  opType: 'ConvTranspose',
  backward: (ctx) => {
    const g = ctx.GO(0)!;
    const [X, W] = [ctx.I(0), ctx.I(1)];
    const rank = ctx.shape(X)?.length ?? rankOrThrow(ctx, W, 'ConvTranspose');
    const w = windowOf(ctx, W, rank);
    const group = attrInt(ctx.node, 'group', 1);
    return [
      ifNeeded(ctx, 0, () => ctx.b.op('Conv', [g, W], { strides: w.strides, dilations: w.dilations, pads: w.pads, ...(group !== 1 ? { group } : {}) })),
      ifNeeded(ctx, 1, () => weightGrad(ctx, g, W, X, w, group, rank)),
      ifNeeded(ctx, 2, () => reduceSum(ctx, g, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], false)),
    ];
  },
};
