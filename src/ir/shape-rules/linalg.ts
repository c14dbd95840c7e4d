/** Shape rules: MatMul, Gemm and Einsum. */
import type { ShapeRule } from './types.js';
import { attrInt, attrString } from '../attributes.js';
import { parseEinsum } from '../einsum-equation.js';
import type { Dim } from '../value-type.js';
import { broadcastDim, broadcastShapes } from './facts.js';

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

/** Each output subscript's dim from the operands that carry it (broadcast where they differ). */
export const einsumRule: ShapeRule = {
  ops: ['Einsum'],
  infer: (c) => {
    const { S, T, out, node: n } = c;
    const shapes = n.inputs.map((_, i) => S(i));
    const equation = attrString(n, 'equation');
    if (equation === undefined || shapes.some((s) => !s)) return out(0, { elemType: T(0) });
    const eq = parseEinsum(equation, shapes.map((s) => s!.length));
    const dims = new Map<string, Dim>();
    eq.inputs.forEach((letters, i) => letters.forEach((l, j) => dims.set(l, dims.has(l) ? broadcastDim(dims.get(l)!, shapes[i]![j]) : shapes[i]![j])));
    out(0, { shape: eq.output.map((l) => dims.get(l) ?? null), elemType: T(0) });
  },
};
