/**
 * The shape-plumbing ops of ORT's gradient graphs (training_op_defs.cc; kernels
 * broadcast_grad_args.cc, slice_grad.cc, concat.cc, gather_grad.cc):
 *
 *   BroadcastGradientArgs(a_shape, b_shape) -> a_axes, b_axes: the axes each side's gradient is
 *     summed over to undo broadcasting, descending: both shapes right-aligned, every axis of the
 *     region only the longer one has goes to the shorter side, and an aligned axis whose dims
 *     differ goes to the side whose dim is 1.
 *   SliceGrad(dY, shape, starts, ends[, axes[, steps]])  zeros(shape) with dY where Slice took it.
 *   ConcatTraining(x…) -> Concat, and each input's length along the axis.
 *   SplitTraining(x, split)  Split with the sizes as an input.
 *   GatherGrad(shape, indices, dY) (axis 0)  zeros(shape), dY rows added at the indices.
 */
import { GraphError } from '../../../errors.js';
import { attrInt } from '../../../ir/attributes.js';
import { DataType } from '../../../onnx/data-types.js';
import { makeTensor } from '../../../onnx/tensor.js';
import { elemTypeOrThrow, int64s, split, unsqueeze } from '../../../grad/emit.js';
import type { LowerContext, OrtLowering } from './types.js';

const MS = 'com.microsoft';

function scalar64(c: LowerContext, v: number | bigint): string {
  return c.b.constant('ort/i', DataType.INT64, [], [Number(v)]);
}

/** Zeros of `like`'s element type, shaped by the 1-D int64 `shape`. */
export function zeros(c: LowerContext, shape: string, like: string): string {
  return c.b.op('ConstantOfShape', [shape], { value: makeTensor('', elemTypeOrThrow(c, like, c.where), [1], [0]) });
}

export const broadcastGradientArgs: OrtLowering = {
  domain: MS,
  opType: 'BroadcastGradientArgs',
  minInputs: 2,
  lower: (c) => {
    const { b } = c;
    const [a, bs] = [c.I(0), c.I(1)];
    const la = b.op('Size', [a]);
    const lb = b.op('Size', [bs]);
    const nd = b.op('Max', [la, lb]);
    const one = int64s(c, [1]);
    const pad = (x: string, len: string) => {
      const missing = b.op('Sub', [nd, len]);
      return { padded: b.op('Concat', [b.op('Expand', [one, unsqueeze(c, missing, [0])]), x], { axis: 0 }), missing };
    };
    const A = pad(a, la);
    const B = pad(bs, lb);
    const k = b.op('Range', [scalar64(c, 0), nd, scalar64(c, 1)]);
    const inA = b.op('Less', [k, A.missing]);
    const inB = b.op('Less', [k, B.missing]);
    const a1 = b.op('Equal', [A.padded, one]);
    const b1 = b.op('Equal', [B.padded, one]);
    const toA = b.op('Or', [inA, b.op('And', [a1, b.op('Not', [b1])])]);
    const toB = b.op('Or', [inB, b.op('And', [b.op('And', [b1, b.op('Not', [a1])]), b.op('Not', [inA])])]);
    const descending = (mask: string) => b.op('Slice', [b.op('Compress', [k, mask], { axis: 0 }), int64s(c, [-1]), int64s(c, [Number.MIN_SAFE_INTEGER]), int64s(c, [0]), int64s(c, [-1])]);
    return [c.used(0) ? descending(toA) : '', c.used(1) ? descending(toB) : ''];
  },
};

export const sliceGrad: OrtLowering = {
  domain: MS,
  opType: 'SliceGrad',
  minInputs: 4,
  lower: (c) => {
    const { b } = c;
    const [dY, shape, starts, ends, axes, steps] = [0, 1, 2, 3, 4, 5].map((i) => c.I(i));
    // Flat positions of the sliced elements: Slice applied to a grid of positions.
    const n = b.op('ReduceProd', [shape], { keepdims: 0 });
    const grid = b.op('Reshape', [b.op('Range', [scalar64(c, 0), n, scalar64(c, 1)]), shape]);
    const sliceInputs = [grid, starts, ends, ...(axes || steps ? [axes] : []), ...(steps ? [steps] : [])];
    const positions = unsqueeze(c, b.op('Reshape', [b.op('Slice', sliceInputs), int64s(c, [-1])]), [1]);
    const flat = b.op('ScatterND', [zeros(c, unsqueeze(c, n, [0]), dY), positions, b.op('Reshape', [dY, int64s(c, [-1])])]);
    return [b.op('Reshape', [flat, shape])];
  },
};

export const concatTraining: OrtLowering = {
  domain: MS,
  opType: 'ConcatTraining',
  minInputs: 1,
  lower: (c) => {
    const { b } = c;
    const axis = attrInt(c.node, 'axis');
    if (axis === undefined) throw new GraphError(`${c.where}: ConcatTraining without its axis attribute`);
    const inputs = c.node.inputs.filter((x) => x !== '');
    const lengths = c.used(1) ? b.op('Concat', inputs.map((x) => b.op('Gather', [b.op('Shape', [x]), int64s(c, [axis])], { axis: 0 })), { axis: 0 }) : '';
    return [b.op('Concat', inputs, { axis }), lengths];
  },
};

export const splitTraining: OrtLowering = {
  domain: MS,
  opType: 'SplitTraining',
  minInputs: 2,
  lower: (c) => split(c, c.I(0), attrInt(c.node, 'axis', 0), c.I(1), c.node.outputs.length),
};

export const gatherGrad: OrtLowering = {
  domain: MS,
  opType: 'GatherGrad',
  minInputs: 3,
  lower: (c) => {
    if (attrInt(c.node, 'axis', 0) !== 0) throw new GraphError(`${c.where}: GatherGrad along axis ${attrInt(c.node, 'axis', 0)}; lion-onnx lowers it along axis 0 only`);
    const [shape, indices, dY] = [c.I(0), c.I(1), c.I(2)];
    const idx = unsqueeze(c, c.b.op('Cast', [indices], { to: DataType.INT64 }), [-1]);
    return [c.b.op('ScatterND', [zeros(c, shape, dY), idx, dY], { reduction: 'add' })];
  },
};
