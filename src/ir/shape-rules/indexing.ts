/** Shape rules: indexing ops (Gather, GatherElements, Scatter, OneHot, NonZero, ArgMax/ArgMin). */
import type { ShapeRule, ValueFacts } from './types.js';
import { attrInt } from '../attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { normAxis } from './facts.js';

export const gatherRule: ShapeRule = {
  ops: ['Gather'],
  infer: (c) => {
    const { S, T, V, P, out, node: n } = c;
    const s = S(0);
    const idx = S(1);
    if (!s || !idx) {
      out(0, { elemType: T(0) });
      return;
    }
    const axis = normAxis(attrInt(n, 'axis', 0), s.length);
    const facts: ValueFacts = { shape: [...s.slice(0, axis), ...idx, ...s.slice(axis + 1)], elemType: T(0) };
    const v = P(0);
    const iv = V(1);
    if (v && iv && s.length === 1 && typeof s[0] === 'number') facts.partial = iv.map((i) => v[i < 0 ? i + (s[0] as number) : i]);
    out(0, facts);
  },
};

export const gatherElementsRule: ShapeRule = {
  ops: ['GatherElements'],
  infer: (c) => {
    const { S, T, out } = c;
    out(0, { shape: S(1), elemType: T(0) });
  },
};

export const scatterRule: ShapeRule = {
  ops: ['ScatterND', 'ScatterElements', 'Scatter'],
  infer: (c) => {
    const { same } = c;
    same();
  },
};

export const oneHotRule: ShapeRule = {
  ops: ['OneHot'],
  infer: (c) => {
    const { S, T, V, out, node: n } = c;
    const s = S(0);
    const depth = V(1);
    if (!s) return out(0, { elemType: T(2) });
    const axis = normAxis(attrInt(n, 'axis', -1), s.length + 1);
    const shape = [...s];
    shape.splice(axis, 0, depth ? depth[0] : null);
    out(0, { shape, elemType: T(2) });
  },
};

export const nonZeroRule: ShapeRule = {
  ops: ['NonZero'],
  infer: (c) => {
    const { S, out } = c;
    out(0, { shape: [S(0)?.length ?? null, null], elemType: DataType.INT64 });
  },
};

export const argMaxMinRule: ShapeRule = {
  ops: ['ArgMax', 'ArgMin'],
  infer: (c) => {
    const { S, out, node: n } = c;
    const s = S(0);
    if (!s) return out(0, { elemType: DataType.INT64 });
    const axis = normAxis(attrInt(n, 'axis', 0), s.length);
    const shape = attrInt(n, 'keepdims', 1) ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis);
    out(0, { shape, elemType: DataType.INT64 });
  },
};
