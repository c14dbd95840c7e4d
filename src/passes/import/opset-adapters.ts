/**
 * What changed in each default-domain op between opset 7 and 16, and how an old node is written
 * in the new form (after ONNX's version converter, onnx/version_converter/adapters/*.h, and its
 * operator changelog). A table entry is a version of the op's schema: `SAME` when an old node
 * keeps its meaning unchanged under it (types added, an attribute or optional input whose default
 * keeps the old behaviour), else a step that rewrites the node into that version's form, or
 * refuses. A version the tables do not list is refused by upgrade-opset: never a silent guess.
 */
import { attrFloat, attrInt, attrInts, attrString, makeAttribute, type AttrInput } from '../../ir/attributes.js';
import type { GraphBuilder } from '../../ir/builder.js';
import { AttrType, type Node } from '../../ir/graph.js';
import { GraphError } from '../../errors.js';
import type { ShapeInfo } from '../../ir/shape-info.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor, tensorToNumbers, type Tensor } from '../../onnx/tensor.js';

export interface StepContext {
  /** Appends to the graph being rebuilt: what a step adds lands before the node itself. */
  b: GraphBuilder;
  /** Facts about the values written so far, read with opset-16 rules. */
  info: ShapeInfo;
  /** The model's opset before the upgrade. */
  from: number;
  /** An initializer or Constant value visible from this graph. */
  constant(name: string): Tensor | undefined;
  /** Whether anything reads the value (a node, a subgraph, a graph output). */
  used(name: string): boolean;
  /** Runs `emit` right after the node is placed (nodes that read its outputs). */
  after(emit: () => void): void;
  /** Throws the one-line GraphError naming the node, its op and the opset. */
  refuse(why: string): never;
}

/** A step's result: the node changed in place (void), replaced by another op in that op's form at `at`, or replaced by what the step emitted (null). */
export type StepResult = void | null | { node: Node; at: number };
export type Step = (n: Node, cx: StepContext) => StepResult;
export const SAME = 'same';

function setAttr(n: Node, name: string, v: AttrInput): void {
  n.attributes = [...n.attributes.filter((a) => a.name !== name), makeAttribute(name, v)];
}

function dropAttr(n: Node, ...names: string[]): void {
  n.attributes = n.attributes.filter((a) => !names.includes(a.name));
}

/** A Constant node holding `values`; returns its output. */
function constantNode(cx: StepContext, base: string, dataType: number, dims: number[], values: ArrayLike<number>): string {
  const out = cx.b.fresh(base);
  cx.b.add('Constant', [], { value: makeTensor(out, dataType, dims, values) }, { exact: [out], name: `${base}/Constant` });
  return out;
}

const int64s = (cx: StepContext, base: string, values: number[]) => constantNode(cx, base, DataType.INT64, [values.length], values);

/** A float scalar (or list, with dims) in the element type of `like`: float32/float64 written directly, others through CastLike. */
function valueLike(cx: StepContext, base: string, like: string, values: number[], dims: number[] = []): string {
  const t = cx.info.elemType(like);
  if (t === DataType.FLOAT || t === DataType.DOUBLE) return constantNode(cx, base, t, dims, values);
  const f = constantNode(cx, `${base}_f32`, DataType.FLOAT, dims, values);
  return cx.b.op('CastLike', [f, like], {}, base);
}

/** A FLOATS attribute's values. */
function floatsAttr(n: Node, name: string): number[] | undefined {
  const a = n.attributes.find((x) => x.name === name);
  if (!a) return undefined;
  if (a.type !== AttrType.FLOATS) throw new GraphError(`node '${n.name ?? n.opType}' (${n.opType}): attribute '${name}' is not a list of floats`);
  return [...((a.value as number[]) ?? [])];
}

const label = (n: Node) => n.name || n.outputs[0] || n.opType;

/** An attribute of ints moved to an int64 input at `index` (inputs before it padded with ''). */
function intsToInput(n: Node, cx: StepContext, attr: string, index: number): void {
  const v = attrInts(n, attr);
  if (v === undefined) return;
  while (n.inputs.length < index) n.inputs.push('');
  n.inputs[index] = int64s(cx, `${label(n)}_${attr}`, v);
  dropAttr(n, attr);
}

/**
 * Softmax, LogSoftmax, Hardmax before 13 coerce the input to 2-D at `axis` (default 1) and work
 * on the second dim; from 13 they work on the one axis (default -1). Where axis is the last axis
 * of an input of known rank the two agree; elsewhere Flatten → op → Reshape back says the old meaning.
 */
const softmax13: Step = (n, cx) => {
  const x = n.inputs[0];
  const axis = attrInt(n, 'axis', 1);
  const rank = cx.info.rank(x);
  setAttr(n, 'axis', -1);
  if (rank !== undefined && (axis < 0 ? axis + rank : axis) === rank - 1) return;
  const base = label(n);
  const shape = cx.b.op('Shape', [x], {}, `${base}_shape`);
  n.inputs[0] = cx.b.op('Flatten', [x], { axis }, `${base}_2d`);
  const y = n.outputs[0];
  n.outputs[0] = cx.b.fresh(`${y}_2d`);
  cx.after(() => cx.b.add('Reshape', [n.outputs[0], shape], {}, { exact: [y], name: `${base}/reshape_back` }));
};

/** Upsample's nearest picks floor(x / scale) (its scales are ≥ 1); Resize says so with asymmetric + floor. */
function resizeAttrs(mode: string, nearest: string): Record<string, AttrInput> {
  return mode === 'nearest' ? { mode, coordinate_transformation_mode: 'asymmetric', nearest_mode: nearest } : { mode, coordinate_transformation_mode: 'asymmetric' };
}

function resizeMode(n: Node, cx: StepContext): string {
  const mode = attrString(n, 'mode', 'nearest').toLowerCase();
  if (mode === 'nearest' || mode === 'linear') return mode;
  if (mode === 'bilinear') return 'linear';
  return cx.refuse(`mode '${mode}' has no Resize equivalent`);
}

const upsample9: Step = (n, cx) => {
  const scales = floatsAttr(n, 'scales');
  if (!scales) return cx.refuse("it has no 'scales' attribute");
  n.inputs[1] = constantNode(cx, `${label(n)}_scales`, DataType.FLOAT, [scales.length], scales);
  dropAttr(n, 'scales');
};

const upsample10: Step = (n, cx) => {
  const mode = resizeMode(n, cx);
  const node: Node = { ...n, opType: 'Resize', inputs: [n.inputs[0], '', n.inputs[1]], attributes: Object.entries(resizeAttrs(mode, 'floor')).map(([k, v]) => makeAttribute(k, v)) };
  return { node, at: 11 };
};

/**
 * Resize 10 maps output to input as Upsample did (x / scale) and, for nearest, onnxruntime takes
 * floor where an axis grows and ceil where it shrinks (its test data agrees); one Resize from 11
 * on has one nearest_mode, so the scales must be known and go one way.
 */
const resize11: Step = (n, cx) => {
  const mode = resizeMode(n, cx);
  let nearest = 'floor';
  if (mode === 'nearest') {
    const t = cx.constant(n.inputs[1]);
    if (!t) return cx.refuse('its scales are computed, so whether nearest rounds down (upsampling) or up (downsampling) is not known');
    const s = tensorToNumbers(t);
    if (s.some((v) => v < 1) && s.some((v) => v > 1)) return cx.refuse(`its scales [${s.join(', ')}] grow some axes and shrink others, which Resize 11+ cannot round alike`);
    if (s.some((v) => v < 1)) nearest = 'ceil';
  }
  n.inputs = [n.inputs[0], '', n.inputs[1]];
  n.attributes = Object.entries(resizeAttrs(mode, nearest)).map(([k, v]) => makeAttribute(k, v));
};

const resize13: Step = (n, cx) => {
  if (attrString(n, 'coordinate_transformation_mode', 'half_pixel') === 'tf_half_pixel_for_nn') return cx.refuse("coordinate_transformation_mode 'tf_half_pixel_for_nn' was removed at opset 13");
};

const clip11: Step = (n, cx) => {
  const min = attrFloat(n, 'min');
  const max = attrFloat(n, 'max');
  if (min === undefined && max === undefined) return;
  const x = n.inputs[0];
  n.inputs = [x, min === undefined ? '' : valueLike(cx, `${label(n)}_min`, x, [min]), ...(max === undefined ? [] : [valueLike(cx, `${label(n)}_max`, x, [max])])];
  dropAttr(n, 'min', 'max');
};

const pad11: Step = (n, cx) => {
  const pads = attrInts(n, 'pads');
  if (!pads) return cx.refuse("it has no 'pads' attribute");
  const x = n.inputs[0];
  n.inputs = [x, int64s(cx, `${label(n)}_pads`, pads)];
  const value = attrFloat(n, 'value');
  if (attrString(n, 'mode', 'constant') === 'constant' && value !== undefined && value !== 0) n.inputs.push(valueLike(cx, `${label(n)}_value`, x, [value]));
  dropAttr(n, 'pads', 'value');
};

/**
 * Dropout's mask in inference was left unspecified before 12 (onnxruntime writes zeros for 7–9,
 * all true from 12): a graph that reads it is refused. The output itself is the input, as from 12
 * with training_mode false.
 */
const dropout10: Step = (n) => dropAttr(n, 'is_test');

const dropout12: Step = (n, cx) => {
  if (n.outputs[1] && cx.used(n.outputs[1])) return cx.refuse('its mask output is read, and the mask of an inference Dropout was unspecified before opset 12');
  const ratio = attrFloat(n, 'ratio');
  dropAttr(n, 'ratio', 'is_test');
  if (ratio !== undefined) n.inputs = [n.inputs[0], constantNode(cx, `${label(n)}_ratio`, DataType.FLOAT, [], [ratio])];
};

/**
 * BatchNormalization 7–8 with spatial = 0 normalizes per activation: its scale, bias, mean and
 * var have the input's shape without the batch axis. From 9 there is no such form, so the
 * inference formula is written out (they broadcast against the input as they are).
 */
const batchNorm9: Step = (n, cx) => {
  const spatial = attrInt(n, 'spatial', 1);
  dropAttr(n, 'spatial', 'is_test');
  if (spatial !== 0) return;
  if (n.outputs.slice(1).some((o) => o && cx.used(o))) return cx.refuse('spatial = 0 in training mode (its mean/var outputs are read) has no form at opset 9+');
  const [x, scale, bias, mean, v] = n.inputs;
  const base = label(n);
  const eps = valueLike(cx, `${base}_epsilon`, v, [attrFloat(n, 'epsilon', 1e-5)]);
  const std = cx.b.op('Sqrt', [cx.b.op('Add', [v, eps], {}, `${base}_var_eps`)], {}, `${base}_std`);
  const xhat = cx.b.op('Div', [cx.b.op('Sub', [x, mean], {}, `${base}_centered`), std], {}, `${base}_normalized`);
  cx.b.add('Add', [cx.b.op('Mul', [xhat, scale], {}, `${base}_scaled`), bias], {}, { exact: [n.outputs[0]], name: `${base}/shift` });
  return null;
};

/**
 * Before 14, BatchNormalization with more than one output was in training mode (batch statistics,
 * running mean/var out); 14 made it an attribute and dropped saved_mean/saved_var. Inference
 * meaning is kept: outputs nothing reads are dropped, a graph that reads them is refused.
 */
const batchNorm14: Step = (n, cx) => {
  if (n.outputs.slice(1).some((o) => o && cx.used(o))) return cx.refuse('its training-mode outputs (running or saved mean/var) are read; lion-onnx upgrades inference BatchNormalization only');
  n.outputs = n.outputs.slice(0, 1);
};

const scatter11: Step = (n) => ({ node: { ...n, opType: 'ScatterElements', attributes: [makeAttribute('axis', attrInt(n, 'axis', 0))] }, at: 11 });

const roiAlign16: Step = (n) => {
  // 16 changed the default to half_pixel; the old behaviour has its own name.
  if (attrString(n, 'coordinate_transformation_mode') === undefined) setAttr(n, 'coordinate_transformation_mode', 'output_half_pixel');
};

/**
 * Scan 8 runs its body once per batch row (inputs [batch, seq, ...], states [batch, ...]); Scan 9
 * has no batch axis. With a batch known to be 1 and no sequence_lens, the batch axis is squeezed
 * off before and put back after; any other Scan 8 is refused.
 */
const scan9: Step = (n, cx) => {
  if (n.inputs[0]) return cx.refuse('Scan 8 with sequence_lens has no Scan 9+ form');
  const rest = n.inputs.slice(1);
  const unknown = rest.find((x) => !x || cx.info.shape(x)?.[0] !== 1);
  if (unknown !== undefined) return cx.refuse(`Scan 8 carries a batch axis, and only a batch known to be 1 has a Scan 9+ form ('${unknown}' is not known to be [1, ...])`);
  const base = label(n);
  const axis0 = int64s(cx, `${base}_batch_axis`, [0]);
  n.inputs = rest.map((x) => cx.b.op('Squeeze', [x, axis0], {}, `${x}_unbatched`));
  const directions = attrInts(n, 'directions');
  dropAttr(n, 'directions');
  if (directions) setAttr(n, 'scan_input_directions', directions);
  const outs = n.outputs;
  n.outputs = outs.map((o) => (o ? cx.b.fresh(`${o}_unbatched`) : ''));
  cx.after(() => outs.forEach((o, i) => o && cx.b.add('Unsqueeze', [n.outputs[i], axis0], {}, { exact: [o], name: `${base}/batch_${i}` })));
};

/** Ops of ONNX's old experimental set (gone at opset 10) that onnxruntime still runs in old models, written in standard ops. */
export const EXPERIMENTAL: Record<string, Step> = {
  /** The same op (alpha defaults to 1.0 in both) became standard at 10. */
  ThresholdedRelu: (n) => ({ node: n, at: 10 }),
  /** Slice 10's inputs: data, starts, ends, axes. */
  DynamicSlice: (n) => ({ node: { ...n, opType: 'Slice' }, at: 10 }),
  /** y = scale · x + bias[c] over NCHW. */
  ImageScaler: (n, cx) => {
    const x = n.inputs[0];
    const base = label(n);
    const bias = floatsAttr(n, 'bias') ?? [];
    const scaled = cx.b.op('Mul', [x, valueLike(cx, `${base}_scale`, x, [attrFloat(n, 'scale', 1)])], {}, `${base}_scaled`);
    if (!bias.length) cx.b.add('Identity', [scaled], {}, { exact: [n.outputs[0]], name: `${base}/out` });
    else cx.b.add('Add', [scaled, valueLike(cx, `${base}_bias`, x, bias, [bias.length, 1, 1])], {}, { exact: [n.outputs[0]], name: `${base}/bias` });
    return null;
  },
};

/** Versions (8–16) whose change an old node needs nothing for. */
const SAME_AT: Record<string, number[]> = {
  Abs: [13], Add: [13, 14], ArgMax: [11, 12, 13], ArgMin: [11, 12, 13], AveragePool: [10, 11], BatchNormalization: [15], Cast: [9, 13], Ceil: [13],
  Clip: [12, 13], Compress: [11], Concat: [11, 13], Constant: [9, 11, 12, 13], Conv: [11], ConvTranspose: [11], CumSum: [14], DepthToSpace: [11, 13],
  DequantizeLinear: [13], Div: [13, 14], Dropout: [13], Equal: [11, 13], Erf: [13], Exp: [13], Expand: [13], Flatten: [9, 11, 13], Floor: [13], GRU: [14],
  Gather: [11, 13], GatherElements: [13], GatherND: [12, 13], Gemm: [9, 11, 13], Greater: [9, 13], GreaterOrEqual: [16], Hardmax: [11],
  Identity: [13, 14, 16], If: [11, 13, 16], IsNaN: [13], LRN: [13], LSTM: [14], LeakyRelu: [16], Less: [9, 13], LessOrEqual: [16], Log: [13],
  LogSoftmax: [11], Loop: [11, 13, 16], LpPool: [11], MatMul: [9, 13], Max: [8, 12, 13], MaxPool: [8, 10, 11, 12], MaxUnpool: [11], Mean: [8, 13],
  MeanVarianceNormalization: [13], Min: [8, 12, 13], Mod: [13], Mul: [13, 14], Neg: [13], NegativeLogLikelihoodLoss: [13], NonMaxSuppression: [11],
  NonZero: [13], OneHot: [11], PRelu: [9, 16], Pad: [13], Pow: [12, 13, 15], QuantizeLinear: [13], RNN: [14], Reciprocal: [13], ReduceL1: [11, 13],
  ReduceL2: [11, 13], ReduceLogSum: [11, 13], ReduceLogSumExp: [11, 13], ReduceMax: [11, 12, 13], ReduceMean: [11, 13], ReduceMin: [11, 12, 13],
  ReduceProd: [11, 13], ReduceSum: [11], ReduceSumSquare: [11, 13], Relu: [13, 14], Reshape: [13, 14], Scan: [11, 16], ScatterElements: [13, 16],
  ScatterND: [13, 16], Shape: [13, 15], Sigmoid: [13], Sign: [13], Size: [13], Slice: [11, 13], Softmax: [11], SoftmaxCrossEntropyLoss: [13],
  SpaceToDepth: [13], Split: [11], Sqrt: [13], Squeeze: [11], Sub: [13, 14], Sum: [8, 13], Tanh: [13], Tile: [13], TopK: [11], Transpose: [13],
  Unsqueeze: [11], Where: [16],
};

/** Versions (8–16) that change what an old node means or how it is written. */
const STEPS: Record<string, Record<number, Step>> = {
  Softmax: { 13: softmax13 },
  LogSoftmax: { 13: softmax13 },
  Hardmax: { 13: softmax13 },
  ReduceSum: { 13: (n, cx) => intsToInput(n, cx, 'axes', 1) },
  Squeeze: { 13: (n, cx) => intsToInput(n, cx, 'axes', 1) },
  Unsqueeze: { 13: (n, cx) => intsToInput(n, cx, 'axes', 1) },
  Split: { 13: (n, cx) => intsToInput(n, cx, 'split', 1) },
  Slice: {
    10: (n, cx) => {
      intsToInput(n, cx, 'starts', 1);
      intsToInput(n, cx, 'ends', 2);
      intsToInput(n, cx, 'axes', 3);
    },
  },
  TopK: {
    10: (n, cx) => {
      const k = attrInt(n, 'k');
      if (k === undefined) return cx.refuse("it has no 'k' attribute");
      n.inputs = [n.inputs[0], int64s(cx, `${label(n)}_k`, [k])];
      dropAttr(n, 'k');
    },
  },
  Clip: { 11: clip11 },
  Pad: { 11: pad11 },
  Upsample: { 9: upsample9, 10: upsample10 },
  Resize: { 11: resize11, 13: resize13 },
  Dropout: { 10: dropout10, 12: dropout12 },
  BatchNormalization: { 9: batchNorm9, 14: batchNorm14 },
  Scatter: { 11: scatter11 },
  RoiAlign: { 16: roiAlign16 },
  Scan: { 9: scan9 },
};

/** What the tables say for `op` at `version`: SAME, a step, or undefined (not known: refuse). */
export function stepAt(op: string, version: number): Step | typeof SAME | undefined {
  const step = STEPS[op]?.[version];
  if (step) return step;
  return SAME_AT[op]?.includes(version) ? SAME : undefined;
}
