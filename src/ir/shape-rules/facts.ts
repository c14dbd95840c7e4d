/** What shape rules share: known facts about a value, and the helpers over shapes and small integer values. */
import { attrInts } from '../attributes.js';
import type { Node } from '../graph.js';
import type { Dim } from '../value-type.js';
import { DataType } from '../../onnx/data-types.js';
import { tensorToNumbers, type Tensor } from '../../onnx/tensor.js';
import type { ValueFacts } from './types.js';

/** Integer tensors up to this many elements have their values tracked. */
export const MAX_TRACKED = 4096;

/** Integer (and bool) tensors: the ones whose values are tracked. */
export const INT_TYPES = new Set<number>([DataType.BOOL, DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64]);

/** Float tensors up to this many elements have their values kept (scales, not weights). */
const MAX_FLOATS = 16;

export const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

export function isStatic(shape: Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** One dim of a broadcast result. */
export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  if (a === b) return a;
  return null;
}

export function broadcastShapes(shapes: (Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(0, ...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes as Dim[][]) {
      const j = i - (rank - s.length);
      if (j >= 0) d = broadcastDim(d, s[j]);
    }
    out.push(d);
  }
  return out;
}

/** Merges two descriptions of one shape, keeping the more precise dim at each position. */
export function mergeShapes(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a) return b;
  if (!b || a.length !== b.length) return a;
  return a.map((d, i) => (typeof d === 'number' ? d : typeof b[i] === 'number' ? b[i] : (d ?? b[i])));
}

export function tensorFacts(t: Tensor): ValueFacts {
  const f: ValueFacts = { shape: [...t.dims], elemType: t.dataType };
  if (INT_TYPES.has(t.dataType) && product(t.dims) <= MAX_TRACKED && !Array.isArray(t.data) && t.storage !== 'external') f.value = tensorToNumbers(t);
  if (FLOAT_TYPES.has(t.dataType) && product(t.dims) <= MAX_FLOATS && !Array.isArray(t.data) && t.storage !== 'external') f.floats = tensorToNumbers(t);
  return f;
}

/** Opset-dependent "axes" of Squeeze/Unsqueeze/Reduce*: attribute before `inputSince`, input after. */
export function axesOf(node: Node, opset: number, inputSince: number, value: (n: string) => number[] | undefined): number[] | null | undefined {
  if (opset < inputSince) return attrInts(node, 'axes') ?? null;
  const name = node.inputs[1];
  if (!name) return null;
  return value(name);
}

/**
 * First index and count of the indices one axis of Slice selects (ONNX's clamping rules),
 * computed rather than listed: a declared dim can be 10^12. Undefined for step 0, which ONNX
 * forbids.
 */
export function sliceSpan(dim: number, start: number, end: number, step: number): { first: number; length: number } | undefined {
  if (step === 0 || !Number.isFinite(step)) return undefined;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
    return { first: s, length: e > s ? Math.ceil((e - s) / step) : 0 };
  }
  s = clamp(s, 0, dim - 1);
  e = clamp(e, -1, dim - 1);
  return { first: s, length: s > e ? Math.ceil((s - e) / -step) : 0 };
}

/** Indices selected by one axis of Slice, with ONNX's clamping rules (for small dims: they are listed). */
export function sliceRange(dim: number, start: number, end: number, step: number): number[] {
  const span = sliceSpan(dim, start, end, step);
  return span ? Array.from({ length: span.length }, (_, i) => span.first + i * step) : [];
}

export function intArith(op: string, a: number[], b: number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return undefined;
  const at = (v: number[], i: number) => (v.length === 1 ? v[0] : v[i]);
  const f: Record<string, (x: number, y: number) => number> = {
    Add: (x, y) => x + y,
    Sub: (x, y) => x - y,
    Mul: (x, y) => x * y,
    Div: (x, y) => Math.trunc(x / y),
    Max: Math.max,
    Min: Math.min,
    // Comparisons and logic give bools (1/0): If conditions are made of them.
    Equal: (x, y) => +(x === y),
    Less: (x, y) => +(x < y),
    Greater: (x, y) => +(x > y),
    LessOrEqual: (x, y) => +(x <= y),
    GreaterOrEqual: (x, y) => +(x >= y),
    And: (x, y) => +(!!x && !!y),
    Or: (x, y) => +(!!x || !!y),
    Xor: (x, y) => +(!!x !== !!y),
  };
  const fn = f[op];
  return fn ? Array.from({ length: n }, (_, i) => fn(at(a, i), at(b, i))) : undefined;
}
