/** Shape rules: the Reduce* ops (axes as an attribute before opset 13/18, as an input after). */
import type { ShapeRule } from './types.js';
import { attrInt } from '../attributes.js';
import { axesOf, normAxis } from './facts.js';

export const reduceRule: ShapeRule = {
  ops: ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'],
  infer: (c) => {
    const { S, T, val, out, same, node: n, opset, op } = c;
    const s = S(0);
    const axes = axesOf(n, opset, op === 'ReduceSum' ? 13 : 18, val);
    if (!s || axes === undefined) return out(0, { elemType: T(0) });
    const keep = attrInt(n, 'keepdims', 1);
    if ((axes === null || axes.length === 0) && attrInt(n, 'noop_with_empty_axes', 0)) return same();
    const ax = new Set(axes === null || axes.length === 0 ? s.map((_, i) => i) : axes.map((a) => normAxis(a, s.length)));
    const shape = keep ? s.map((d, i) => (ax.has(i) ? 1 : d)) : s.filter((_, i) => !ax.has(i));
    out(0, { shape, elemType: T(0) });
  },
};
