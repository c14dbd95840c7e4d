/** Shape rules: MatMul and Gemm. */
import type { ShapeRule } from './types.js';
import { attrInt } from '../attributes.js';
import { broadcastShapes } from './facts.js';

export const matMulRule: ShapeRule = {
  ops: ['MatMul'],
  infer: (c) => {
    const { S, T, out } = c;
    const a = S(0);
    const b = S(1);
    if (!a || !b) return out(0, { elemType: T(0) });
    const a2 = a.length === 1 ? [1, a[0]] : a;
    const b2 = b.length === 1 ? [b[0], 1] : b;
    const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)])!;
    const shape = [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])];
    out(0, { shape, elemType: T(0) });
  },
};

export const gemmRule: ShapeRule = {
  ops: ['Gemm'],
  infer: (c) => {
    const { S, T, out, node: n } = c;
    const a = S(0);
    const b = S(1);
    const m = a ? (attrInt(n, 'transA', 0) ? a[1] : a[0]) : null;
    const k = b ? (attrInt(n, 'transB', 0) ? b[0] : b[1]) : null;
    out(0, { shape: [m ?? null, k ?? null], elemType: T(0) });
  },
};
