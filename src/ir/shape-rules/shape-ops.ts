/** Shape rules: ops that rearrange or measure shapes (Shape, Reshape, Squeeze, Slice, …), with values tracked for shape plumbing. */
import type { ShapeRule, ValueFacts } from './types.js';
import { attrInt, attrInts } from '../attributes.js';
import { DataType } from '../../onnx/data-types.js';
import type { Dim } from '../value-type.js';
import { MAX_TRACKED, axesOf, broadcastShapes, isStatic, mergeShapes, normAxis, product, sliceRange, sliceSpan } from './facts.js';

export const shapeOfRule: ShapeRule = {
  ops: ['Shape'],
  infer: (c) => {
    const { S, out, node: n } = c;
    const s = S(0);
    if (!s) {
      out(0, { elemType: DataType.INT64, shape: [null] });
      return;
    }
    const start = normAxis(attrInt(n, 'start', 0), s.length);
    const endAttr = attrInt(n, 'end');
    const end = endAttr === undefined ? s.length : normAxis(endAttr, s.length);
    const dims = s.slice(Math.max(0, start), Math.min(s.length, end));
    out(0, { elemType: DataType.INT64, shape: [dims.length], partial: dims });
  },
};

export const sizeRule: ShapeRule = {
  ops: ['Size'],
  infer: (c) => {
    const { S, out } = c;
    const s = S(0);
    out(0, { elemType: DataType.INT64, shape: [], value: isStatic(s) ? [product(s)] : undefined });
  },
};

export const unsqueezeRule: ShapeRule = {
  ops: ['Unsqueeze'],
  infer: (c) => {
    const { S, T, P, val, out, node: n, opset } = c;
    const axes = axesOf(n, opset, 13, val);
    const s = S(0);
    if (!s || !axes) {
      out(0, { elemType: T(0) });
      return;
    }
    const rank = s.length + axes.length;
    const ax = new Set(axes.map((a) => normAxis(a, rank)));
    const shape: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(ax.has(i) ? 1 : s[k++]);
    out(0, { shape, elemType: T(0), partial: P(0) });
  },
};

export const squeezeRule: ShapeRule = {
  ops: ['Squeeze'],
  infer: (c) => {
    const { S, T, P, val, out, node: n, opset } = c;
    const axes = axesOf(n, opset, 13, val);
    const s = S(0);
    if (!s || axes === undefined) {
      out(0, { elemType: T(0) });
      return;
    }
    let shape: Dim[] | undefined;
    if (axes === null || axes.length === 0) shape = s.every((d) => typeof d === 'number') ? s.filter((d) => d !== 1) : undefined;
    else {
      const ax = new Set(axes.map((a) => normAxis(a, s.length)));
      shape = s.filter((_, i) => !ax.has(i));
    }
    out(0, { shape, elemType: T(0), partial: P(0) });
  },
};

export const concatRule: ShapeRule = {
  ops: ['Concat'],
  infer: (c) => {
    const { S, T, P, out, node: n } = c;
    const shapes = n.inputs.map((_, i) => S(i));
    const facts: ValueFacts = { elemType: T(0) };
    if (shapes.every((s) => s)) {
      const rank = shapes[0]!.length;
      const axis = normAxis(attrInt(n, 'axis', 0), rank);
      const shape = [...shapes[0]!];
      let total: Dim = 0;
      for (const s of shapes as Dim[][]) total = typeof total === 'number' && typeof s[axis] === 'number' ? total + (s[axis] as number) : null;
      shape[axis] = total;
      for (let d = 0; d < rank; d++) if (d !== axis) for (const s of shapes as Dim[][]) shape[d] = mergeShapes([shape[d]], [s[d]])![0];
      facts.shape = shape;
      const vals = n.inputs.map((_, i) => P(i));
      if (rank === 1 && vals.every((v) => v)) facts.partial = vals.flat() as Dim[];
    }
    out(0, facts);
  },
};

/**
 * Reshape's -1: the input's size over the other output dims, with symbols cancelled — so
 * [batch, 64, 128] reshaped to [-1, 64, 4, 32] keeps `batch` (torch's x.reshape(-1, t, h, dh)),
 * and later unbroadcasts stay static. Null when a dim is unknown or a symbol is left scaled.
 */
function inferredDim(input: Dim[], others: Dim[]): Dim {
  if (input.some((d) => d === null) || others.some((d) => d === null)) return null;
  const symbols = input.filter((d): d is string => typeof d === 'string');
  let ratio = product(input.filter((d): d is number => typeof d === 'number'));
  for (const d of others) {
    if (typeof d === 'number') ratio /= d;
    else {
      const k = symbols.indexOf(d as string);
      if (k < 0) return null;
      symbols.splice(k, 1);
    }
  }
  if (symbols.length === 0) return Number.isInteger(ratio) && ratio >= 0 ? ratio : null;
  return symbols.length === 1 && ratio === 1 ? symbols[0] : null;
}

export const reshapeRule: ShapeRule = {
  ops: ['Reshape'],
  infer: (c) => {
    const { S, T, V, P, out, node: n } = c;
    // The target's elements, symbols included (Reshape to Shape(x) keeps x's batch symbol); a
    // symbolic or unknown element is neither 0 nor -1 (it is a size > 0 taken as it is).
    const target = P(1);
    const s = S(0);
    const facts: ValueFacts = { elemType: T(0), value: V(0) };
    if (target) {
      const allowzero = attrInt(n, 'allowzero', 0);
      const shape: Dim[] = target.map((d, i) => (d === 0 && !allowzero ? (s ? s[i] : null) : d === -1 ? null : d));
      const minus = target.indexOf(-1);
      if (minus >= 0 && s) shape[minus] = inferredDim(s, shape.filter((_, i) => i !== minus));
      facts.shape = shape;
    } else {
      const ts = S(1);
      if (ts && typeof ts[0] === 'number' && ts[0] <= MAX_TRACKED) facts.shape = new Array<Dim>(ts[0]).fill(null);
    }
    out(0, facts);
  },
};

export const flattenRule: ShapeRule = {
  ops: ['Flatten'],
  infer: (c) => {
    const { S, T, out, node: n } = c;
    const s = S(0);
    if (!s) return out(0, { elemType: T(0) });
    const axis = normAxis(attrInt(n, 'axis', 1), s.length);
    const pre = s.slice(0, axis);
    const post = s.slice(axis);
    // One dim on a side is kept as it is (a symbolic batch stays the batch).
    const side = (d: Dim[]) => (d.length === 1 ? d[0] : isStatic(d) ? product(d) : null);
    out(0, { shape: [side(pre), side(post)], elemType: T(0) });
  },
};

export const transposeRule: ShapeRule = {
  ops: ['Transpose'],
  infer: (c) => {
    const { S, T, out, node: n } = c;
    const s = S(0);
    if (!s) return out(0, { elemType: T(0) });
    const perm = attrInts(n, 'perm') ?? s.map((_, i) => s.length - 1 - i);
    out(0, { shape: perm.map((p) => s[p]), elemType: T(0) });
  },
};

export const expandRule: ShapeRule = {
  ops: ['Expand'],
  infer: (c) => {
    const { S, T, P, out } = c;
    // The target shape's elements, symbols included (Expand to Shape(x) keeps x's batch symbol).
    const target = P(1);
    const ts = S(1);
    const s = S(0);
    if (target) out(0, { shape: broadcastShapes([s, target]), elemType: T(0) });
    else if (s && ts && typeof ts[0] === 'number' && ts[0] <= MAX_TRACKED) out(0, { shape: new Array<Dim>(Math.max(s.length, ts[0])).fill(null), elemType: T(0) });
    else out(0, { elemType: T(0) });
  },
};

export const tileRule: ShapeRule = {
  ops: ['Tile'],
  infer: (c) => {
    const { S, T, V, out } = c;
    const s = S(0);
    const r = V(1);
    out(0, { shape: s && r ? s.map((d, i) => (typeof d === 'number' ? d * r[i] : r[i] === 1 ? d : null)) : s?.map(() => null), elemType: T(0) });
  },
};

export const padRule: ShapeRule = {
  ops: ['Pad'],
  infer: (c) => {
    const { S, T, V, out, node: n, opset } = c;
    const s = S(0);
    const pads = opset >= 11 ? V(1) : attrInts(n, 'pads');
    if (!s) return out(0, { elemType: T(0) });
    // With an axes input (opset 18) the pads cover only those axes; the rank still holds.
    if (pads && !n.inputs[3]) out(0, { shape: s.map((d, i) => (typeof d === 'number' ? d + pads[i] + pads[i + s.length] : null)), elemType: T(0) });
    else out(0, { shape: s.map(() => null), elemType: T(0) });
  },
};

export const splitRule: ShapeRule = {
  ops: ['Split'],
  infer: (c) => {
    const { S, T, V, out, node: n, opset } = c;
    const s = S(0);
    if (!s) {
      n.outputs.forEach((_, i) => out(i, { elemType: T(0) }));
      return;
    }
    const axis = normAxis(attrInt(n, 'axis', 0), s.length);
    const sizes = opset >= 13 ? (n.inputs[1] ? V(1) : undefined) : attrInts(n, 'split');
    const dim = s[axis];
    let parts: Dim[];
    if (sizes) parts = sizes;
    else if ((opset < 13 || !n.inputs[1]) && typeof dim === 'number') {
      const k = n.outputs.length;
      const chunk = Math.ceil(dim / k);
      parts = n.outputs.map((_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
    } else parts = n.outputs.map(() => null);
    n.outputs.forEach((_, i) => out(i, { shape: s.map((d, j) => (j === axis ? parts[i] : d)), elemType: T(0) }));
  },
};

export const sliceRule: ShapeRule = {
  ops: ['Slice'],
  infer: (c) => {
    const { S, T, V, P, out, node: n } = c;
    const s = S(0);
    if (!s) return out(0, { elemType: T(0) });
    const [starts, ends] = [V(1), V(2)];
    const axes = n.inputs[3] ? V(3) : s.map((_, i) => i).slice(0, starts?.length ?? 0);
    const steps = n.inputs[4] ? V(4) : starts?.map(() => 1);
    const facts: ValueFacts = { elemType: T(0) };
    if (starts && ends && axes && steps) {
      const shape = [...s];
      axes.forEach((a, j) => {
        const ax = normAxis(a, s.length);
        const d = s[ax];
        shape[ax] = typeof d === 'number' ? (sliceSpan(d, starts[j], ends[j], steps[j])?.length ?? null) : null;
      });
      facts.shape = shape;
      const v = P(0);
      if (v && s.length === 1 && typeof s[0] === 'number' && s[0] <= MAX_TRACKED && axes.length === 1) facts.partial = sliceRange(s[0], starts[0], ends[0], steps[0]).map((i) => v[i]);
    } else facts.shape = s.map(() => null);
    out(0, facts);
  },
};
