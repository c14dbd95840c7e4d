/**
 * What is known about values before running: element type, shape (static or symbolic dims) and,
 * for small integer tensors, the values themselves (shape plumbing over static shapes folds to
 * constants). Facts come from the graph's declared types and initializers, then a light
 * propagation through common ops. Nodes appended later (the backward graph) are picked up
 * lazily, so rules can ask about values they emitted. Unknown stays undefined: rules then emit
 * dynamic subgraphs.
 */
import { attrFloat, attrInt, attrInts, attrString, attrTensor } from '../ir/attributes.js';
import type { Graph, Node } from '../ir/graph.js';
import { topoSort } from '../ir/topo.js';
import { elemTypeOf, shapeOf, type Dim } from '../ir/value-type.js';
import { DataType } from '../onnx/data-types.js';
import { tensorToNumbers, type Tensor } from '../onnx/tensor.js';

export interface ValueFacts {
  shape?: Dim[];
  elemType?: number;
  value?: number[];
}

/** Integer tensors up to this many elements have their values tracked. */
const MAX_TRACKED = 4096;

/** Integer (and bool) tensors: the ones whose values are tracked. */
const INT_TYPES = new Set<number>([DataType.BOOL, DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64]);

export const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

export function isStatic(shape: Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function normAxis(axis: number, rank: number): number {
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
function mergeShapes(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a) return b;
  if (!b || a.length !== b.length) return a;
  return a.map((d, i) => (typeof d === 'number' ? d : typeof b[i] === 'number' ? b[i] : (d ?? b[i])));
}

function tensorFacts(t: Tensor): ValueFacts {
  const f: ValueFacts = { shape: [...t.dims], elemType: t.dataType };
  if (INT_TYPES.has(t.dataType) && product(t.dims) <= MAX_TRACKED && !Array.isArray(t.data) && t.storage !== 'external') f.value = tensorToNumbers(t);
  return f;
}

/** Opset-dependent "axes" of Squeeze/Unsqueeze/Reduce*: attribute before `inputSince`, input after. */
function axesOf(node: Node, opset: number, inputSince: number, value: (n: string) => number[] | undefined): number[] | null | undefined {
  if (opset < inputSince) return attrInts(node, 'axes') ?? null;
  const name = node.inputs[1];
  if (!name) return null;
  return value(name);
}

export class ShapeInfo {
  private readonly facts = new Map<string, ValueFacts>();
  /** Nodes and initializers already seen; later ones (the backward graph's) are read lazily. */
  private done: number;
  private initsDone: number;

  constructor(
    private readonly graph: Graph,
    private readonly opset: number,
  ) {
    for (const list of [graph.inputs, graph.outputs, graph.valueInfo])
      for (const v of list) this.merge(v.name, { shape: shapeOf(v.type), elemType: elemTypeOf(v.type) || undefined });
    for (const t of graph.initializers) this.merge(t.name, tensorFacts(t));
    for (const n of topoSort(graph)) this.inferSafe(n);
    this.done = graph.nodes.length;
    this.initsDone = graph.initializers.length;
  }

  shape(name: string): Dim[] | undefined {
    return this.get(name)?.shape;
  }

  elemType(name: string): number | undefined {
    return this.get(name)?.elemType;
  }

  value(name: string): number[] | undefined {
    return this.get(name)?.value;
  }

  /** Static rank when known. */
  rank(name: string): number | undefined {
    return this.shape(name)?.length;
  }

  private get(name: string): ValueFacts | undefined {
    // Nodes appended since (backward nodes) come in a valid order: inputs exist before use.
    while (this.initsDone < this.graph.initializers.length) {
      const t = this.graph.initializers[this.initsDone++];
      this.merge(t.name, tensorFacts(t));
    }
    while (this.done < this.graph.nodes.length) this.inferSafe(this.graph.nodes[this.done++]);
    return this.facts.get(name);
  }

  private merge(name: string, f: ValueFacts): void {
    if (!name) return;
    const old = this.facts.get(name);
    if (!old) {
      this.facts.set(name, { ...f });
      return;
    }
    old.shape = mergeShapes(old.shape, f.shape);
    old.elemType ??= f.elemType;
    old.value ??= f.value;
  }

  private inferSafe(n: Node): void {
    // Inference is best effort: a malformed attribute leaves the outputs unknown, and the
    // rule (or ORT) that needs them reports the problem with its own context.
    try {
      this.infer(n);
    } catch {
      /* unknown */
    }
  }

  private infer(n: Node): void {
    const f = (i: number): ValueFacts => (n.inputs[i] ? (this.facts.get(n.inputs[i]) ?? {}) : {});
    const S = (i: number) => f(i).shape;
    const T = (i: number) => f(i).elemType;
    const V = (i: number) => f(i).value;
    const val = (name: string) => this.facts.get(name)?.value;
    const out = (i: number, facts: ValueFacts) => {
      if (facts.value && facts.value.length > MAX_TRACKED) delete facts.value;
      this.merge(n.outputs[i], facts);
    };
    const same = (t = T(0)) => out(0, { shape: S(0), elemType: t });
    const op = n.domain && n.domain !== 'ai.onnx' ? '' : n.opType;
    switch (op) {
      case 'Identity':
      case 'Neg':
      case 'Abs':
      case 'Relu':
      case 'LeakyRelu':
      case 'Sigmoid':
      case 'Tanh':
      case 'Exp':
      case 'Log':
      case 'Sqrt':
      case 'Erf':
      case 'Reciprocal':
      case 'Softplus':
      case 'Elu':
      case 'Gelu':
      case 'Sin':
      case 'Cos':
      case 'Floor':
      case 'Ceil':
      case 'Round':
      case 'Sign':
      case 'Softmax':
      case 'LogSoftmax':
      case 'Clip':
      case 'HardSigmoid':
      case 'HardSwish':
      case 'Selu':
      case 'Celu':
      case 'Mish':
      case 'LRN':
      case 'CumSum':
      case 'InstanceNormalization':
      case 'BatchNormalization':
      case 'LayerNormalization':
        same();
        if (op === 'Identity' || op === 'Neg' || op === 'Abs') {
          const v = V(0);
          if (v) out(0, { value: op === 'Neg' ? v.map((x) => -x) : op === 'Abs' ? v.map(Math.abs) : v });
        }
        return;
      case 'Dropout':
        same();
        out(1, { shape: S(0), elemType: DataType.BOOL });
        return;
      case 'IsNaN':
      case 'IsInf':
      case 'Not':
        same(DataType.BOOL);
        return;
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Mod':
      case 'Pow':
      case 'Max':
      case 'Min':
      case 'Sum':
      case 'Mean':
      case 'PRelu': {
        const shapes = n.inputs.map((_, i) => S(i));
        const facts: ValueFacts = { shape: broadcastShapes(shapes), elemType: T(0) };
        const vals = n.inputs.map((_, i) => V(i));
        if (n.inputs.length === 2 && vals[0] && vals[1]) facts.value = intArith(op, vals[0], vals[1]);
        out(0, facts);
        return;
      }
      case 'Equal':
      case 'Less':
      case 'Greater':
      case 'LessOrEqual':
      case 'GreaterOrEqual':
      case 'And':
      case 'Or':
      case 'Xor':
        out(0, { shape: broadcastShapes([S(0), S(1)]), elemType: DataType.BOOL });
        return;
      case 'Where':
        out(0, { shape: broadcastShapes([S(0), S(1), S(2)]), elemType: T(1) ?? T(2) });
        return;
      case 'Cast': {
        const to = attrInt(n, 'to', 0);
        const v = V(0);
        out(0, { shape: S(0), elemType: to, value: v && INT_TYPES.has(to) ? v.map(Math.trunc) : undefined });
        return;
      }
      case 'CastLike':
        out(0, { shape: S(0), elemType: T(1) });
        return;
      case 'Shape': {
        const s = S(0);
        if (!s) {
          out(0, { elemType: DataType.INT64, shape: [null] });
          return;
        }
        const start = normAxis(attrInt(n, 'start', 0), s.length);
        const endAttr = attrInt(n, 'end');
        const end = endAttr === undefined ? s.length : normAxis(endAttr, s.length);
        const dims = s.slice(Math.max(0, start), Math.min(s.length, end));
        out(0, { elemType: DataType.INT64, shape: [dims.length], value: isStatic(dims) ? dims : undefined });
        return;
      }
      case 'Size': {
        const s = S(0);
        out(0, { elemType: DataType.INT64, shape: [], value: isStatic(s) ? [product(s)] : undefined });
        return;
      }
      case 'Constant': {
        const t = attrTensor(n, 'value');
        if (t) out(0, tensorFacts(t));
        else if (attrInts(n, 'value_ints')) out(0, { shape: [attrInts(n, 'value_ints')!.length], elemType: DataType.INT64, value: attrInts(n, 'value_ints') });
        else if (attrInt(n, 'value_int') !== undefined) out(0, { shape: [], elemType: DataType.INT64, value: [attrInt(n, 'value_int')!] });
        else if (attrFloat(n, 'value_float') !== undefined) out(0, { shape: [], elemType: DataType.FLOAT });
        return;
      }
      case 'ConstantOfShape': {
        const t = attrTensor(n, 'value');
        const elemType = t?.dataType ?? DataType.FLOAT;
        const dims = V(0);
        const s0 = S(0);
        const shape = dims ?? (s0 && typeof s0[0] === 'number' && s0[0] <= MAX_TRACKED ? new Array<Dim>(s0[0]).fill(null) : undefined);
        const fill = t && INT_TYPES.has(elemType) ? tensorToNumbers(t)[0] : undefined;
        out(0, { shape, elemType, value: dims && fill !== undefined && product(dims) <= MAX_TRACKED ? new Array(product(dims)).fill(fill) : undefined });
        return;
      }
      case 'Range': {
        const [a, l, d] = [V(0), V(1), V(2)];
        if (a && l && d && d[0] !== 0) {
          const len = Math.max(0, Math.ceil((l[0] - a[0]) / d[0]));
          // Counted, not listed, when large: Range(0, 10^12, 1) is a few bytes of model.
          out(0, { shape: [Number.isSafeInteger(len) ? len : null], elemType: T(0), value: len <= MAX_TRACKED ? Array.from({ length: len }, (_, i) => a[0] + i * d[0]) : undefined });
        } else out(0, { shape: [null], elemType: T(0) });
        return;
      }
      case 'Gather': {
        const s = S(0);
        const idx = S(1);
        if (!s || !idx) {
          out(0, { elemType: T(0) });
          return;
        }
        const axis = normAxis(attrInt(n, 'axis', 0), s.length);
        const facts: ValueFacts = { shape: [...s.slice(0, axis), ...idx, ...s.slice(axis + 1)], elemType: T(0) };
        const v = V(0);
        const iv = V(1);
        if (v && iv && s.length === 1 && typeof s[0] === 'number') facts.value = iv.map((i) => v[i < 0 ? i + (s[0] as number) : i]);
        out(0, facts);
        return;
      }
      case 'GatherElements':
        out(0, { shape: S(1), elemType: T(0) });
        return;
      case 'ScatterND':
      case 'ScatterElements':
      case 'Scatter':
        same();
        return;
      case 'Unsqueeze': {
        const axes = axesOf(n, this.opset, 13, val);
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
        out(0, { shape, elemType: T(0), value: V(0) });
        return;
      }
      case 'Squeeze': {
        const axes = axesOf(n, this.opset, 13, val);
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
        out(0, { shape, elemType: T(0), value: V(0) });
        return;
      }
      case 'Concat': {
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
          const vals = n.inputs.map((_, i) => V(i));
          if (rank === 1 && vals.every((v) => v)) facts.value = vals.flat() as number[];
        }
        out(0, facts);
        return;
      }
      case 'Reshape': {
        const target = V(1);
        const s = S(0);
        const facts: ValueFacts = { elemType: T(0), value: V(0) };
        if (target) {
          const allowzero = attrInt(n, 'allowzero', 0);
          const shape: Dim[] = target.map((d, i) => (d === 0 && !allowzero ? (s ? s[i] : null) : d === -1 ? null : d));
          const minus = target.indexOf(-1);
          if (minus >= 0 && isStatic(s)) {
            const known = shape.filter((_, i) => i !== minus);
            if (isStatic(known)) shape[minus] = product(s) / product(known);
          }
          facts.shape = shape;
        } else {
          const ts = S(1);
          if (ts && typeof ts[0] === 'number' && ts[0] <= MAX_TRACKED) facts.shape = new Array<Dim>(ts[0]).fill(null);
        }
        out(0, facts);
        return;
      }
      case 'Flatten': {
        const s = S(0);
        if (!s) return out(0, { elemType: T(0) });
        const axis = normAxis(attrInt(n, 'axis', 1), s.length);
        const pre = s.slice(0, axis);
        const post = s.slice(axis);
        out(0, { shape: [isStatic(pre) ? product(pre) : null, isStatic(post) ? product(post) : null], elemType: T(0) });
        return;
      }
      case 'Transpose': {
        const s = S(0);
        if (!s) return out(0, { elemType: T(0) });
        const perm = attrInts(n, 'perm') ?? s.map((_, i) => s.length - 1 - i);
        out(0, { shape: perm.map((p) => s[p]), elemType: T(0) });
        return;
      }
      case 'Expand': {
        const target = V(1);
        const ts = S(1);
        const s = S(0);
        if (target) out(0, { shape: broadcastShapes([s, target]), elemType: T(0) });
        else if (s && ts && typeof ts[0] === 'number' && ts[0] <= MAX_TRACKED) out(0, { shape: new Array<Dim>(Math.max(s.length, ts[0])).fill(null), elemType: T(0) });
        else out(0, { elemType: T(0) });
        return;
      }
      case 'Tile': {
        const s = S(0);
        const r = V(1);
        out(0, { shape: s && r ? s.map((d, i) => (typeof d === 'number' ? d * r[i] : r[i] === 1 ? d : null)) : s?.map(() => null), elemType: T(0) });
        return;
      }
      case 'Pad': {
        const s = S(0);
        const pads = this.opset >= 11 ? V(1) : attrInts(n, 'pads');
        if (!s) return out(0, { elemType: T(0) });
        // With an axes input (opset 18) the pads cover only those axes; the rank still holds.
        if (pads && !n.inputs[3]) out(0, { shape: s.map((d, i) => (typeof d === 'number' ? d + pads[i] + pads[i + s.length] : null)), elemType: T(0) });
        else out(0, { shape: s.map(() => null), elemType: T(0) });
        return;
      }
      case 'MatMul': {
        const a = S(0);
        const b = S(1);
        if (!a || !b) return out(0, { elemType: T(0) });
        const a2 = a.length === 1 ? [1, a[0]] : a;
        const b2 = b.length === 1 ? [b[0], 1] : b;
        const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)])!;
        const shape = [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])];
        out(0, { shape, elemType: T(0) });
        return;
      }
      case 'Gemm': {
        const a = S(0);
        const b = S(1);
        const m = a ? (attrInt(n, 'transA', 0) ? a[1] : a[0]) : null;
        const k = b ? (attrInt(n, 'transB', 0) ? b[0] : b[1]) : null;
        out(0, { shape: [m ?? null, k ?? null], elemType: T(0) });
        return;
      }
      case 'ReduceSum':
      case 'ReduceMean':
      case 'ReduceMax':
      case 'ReduceMin':
      case 'ReduceProd':
      case 'ReduceL1':
      case 'ReduceL2':
      case 'ReduceLogSum':
      case 'ReduceLogSumExp':
      case 'ReduceSumSquare': {
        const s = S(0);
        const axes = axesOf(n, this.opset, op === 'ReduceSum' ? 13 : 18, val);
        if (!s || axes === undefined) return out(0, { elemType: T(0) });
        const keep = attrInt(n, 'keepdims', 1);
        if ((axes === null || axes.length === 0) && attrInt(n, 'noop_with_empty_axes', 0)) return same();
        const ax = new Set(axes === null || axes.length === 0 ? s.map((_, i) => i) : axes.map((a) => normAxis(a, s.length)));
        const shape = keep ? s.map((d, i) => (ax.has(i) ? 1 : d)) : s.filter((_, i) => !ax.has(i));
        out(0, { shape, elemType: T(0) });
        return;
      }
      case 'ArgMax':
      case 'ArgMin': {
        const s = S(0);
        if (!s) return out(0, { elemType: DataType.INT64 });
        const axis = normAxis(attrInt(n, 'axis', 0), s.length);
        const shape = attrInt(n, 'keepdims', 1) ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis);
        out(0, { shape, elemType: DataType.INT64 });
        return;
      }
      case 'Split': {
        const s = S(0);
        if (!s) {
          n.outputs.forEach((_, i) => out(i, { elemType: T(0) }));
          return;
        }
        const axis = normAxis(attrInt(n, 'axis', 0), s.length);
        const sizes = this.opset >= 13 ? (n.inputs[1] ? V(1) : undefined) : attrInts(n, 'split');
        const dim = s[axis];
        let parts: Dim[];
        if (sizes) parts = sizes;
        else if ((this.opset < 13 || !n.inputs[1]) && typeof dim === 'number') {
          const k = n.outputs.length;
          const chunk = Math.ceil(dim / k);
          parts = n.outputs.map((_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
        } else parts = n.outputs.map(() => null);
        n.outputs.forEach((_, i) => out(i, { shape: s.map((d, j) => (j === axis ? parts[i] : d)), elemType: T(0) }));
        return;
      }
      case 'Slice': {
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
          const v = V(0);
          if (v && s.length === 1 && typeof s[0] === 'number' && s[0] <= MAX_TRACKED && axes.length === 1) facts.value = sliceRange(s[0], starts[0], ends[0], steps[0]).map((i) => v[i]);
        } else facts.shape = s.map(() => null);
        out(0, facts);
        return;
      }
      case 'OneHot': {
        const s = S(0);
        const depth = V(1);
        if (!s) return out(0, { elemType: T(2) });
        const axis = normAxis(attrInt(n, 'axis', -1), s.length + 1);
        const shape = [...s];
        shape.splice(axis, 0, depth ? depth[0] : null);
        out(0, { shape, elemType: T(2) });
        return;
      }
      case 'NonZero':
        out(0, { shape: [S(0)?.length ?? null, null], elemType: DataType.INT64 });
        return;
      case 'Conv':
      case 'MaxPool':
      case 'AveragePool':
      case 'LpPool': {
        const s = S(0);
        if (!s) return out(0, { elemType: T(0) });
        const w = op === 'Conv' ? S(1) : undefined;
        const kernel = attrInts(n, 'kernel_shape') ?? w?.slice(2);
        const spatial = s.length - 2;
        const channels = op === 'Conv' ? (w?.[0] ?? null) : s[1];
        if (!kernel || kernel.some((k) => typeof k !== 'number')) return out(0, { shape: [s[0], channels, ...new Array<Dim>(spatial).fill(null)], elemType: T(0) });
        const strides = attrInts(n, 'strides') ?? new Array(spatial).fill(1);
        const dil = attrInts(n, 'dilations') ?? new Array(spatial).fill(1);
        const pads = attrInts(n, 'pads') ?? new Array(2 * spatial).fill(0);
        const autoPad = attrString(n, 'auto_pad', 'NOTSET');
        const ceil = attrInt(n, 'ceil_mode', 0);
        const dims = s.slice(2).map((d, i) => {
          if (typeof d !== 'number') return null;
          if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(d / strides[i]);
          const k = (dil[i] * ((kernel[i] as number) - 1)) + 1;
          const p = autoPad === 'VALID' ? 0 : pads[i] + pads[i + spatial];
          const r = (d + p - k) / strides[i];
          let n = (ceil ? Math.ceil(r) : Math.floor(r)) + 1;
          // With ceil_mode the last window must start inside the input or its left padding.
          if (ceil && (n - 1) * strides[i] >= d + (autoPad === 'VALID' ? 0 : pads[i])) n--;
          return n;
        });
        out(0, { shape: [s[0], channels, ...dims], elemType: T(0) });
        if (op === 'MaxPool') out(1, { shape: [s[0], channels, ...dims], elemType: DataType.INT64 });
        return;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool': {
        const s = S(0);
        out(0, { shape: s ? [s[0], s[1], ...s.slice(2).map(() => 1)] : undefined, elemType: T(0) });
        return;
      }
      default:
        return;
    }
  }
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

function intArith(op: string, a: number[], b: number[]): number[] | undefined {
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
  };
  const fn = f[op];
  return fn ? Array.from({ length: n }, (_, i) => fn(at(a, i), at(b, i))) : undefined;
}
