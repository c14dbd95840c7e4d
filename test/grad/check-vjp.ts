/**
 * checkVjp: the one gradient checker every rule test uses (after JAX's `check_vjp`).
 *
 * A spec describes a one-node (or small) forward graph. The checker appends
 * L = Σ_k ReduceSum(Y_k · R_k) for fixed random R_k, runs buildBackward, runs forward + backward
 * in onnxruntime-node, and compares every analytic dL/dx with central finite differences of L.
 * Graphs are built in float64 when ORT has float64 kernels for every op involved, else in
 * float32 with a looser step and tolerance. It throws when the error is over tolerance, so a
 * table test is one `await checkVjp(spec)` per line. VJP_LOG=1 prints each check's errors.
 */
import * as ort from 'onnxruntime-node';
import { buildBackward } from '../../src/grad/backward.js';
import type { AttrInput } from '../../src/ir/attributes.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { modelToBytes } from '../../src/ir/model-io.js';
import { prng } from '../../src/data/dataset.js';

export type InputKind = 'float' | 'int64' | 'int32' | 'bool';

export interface InputSpec {
  shape: number[];
  /** 'float' follows the checker's float type (float64, or float32 as fallback). Default 'float'. */
  type?: InputKind;
  /** Values in row-major order; default random (ints and bools need values or `range`). */
  values?: number[];
  /** Whether dL/d(input) is checked; default true for float inputs, false otherwise. */
  grad?: boolean;
  /** Make it an initializer rather than a fed graph input; default true for non-float inputs. */
  constant?: boolean;
  /** Uniform range for random values; default ±[0.1, 1] (kept off 0 so kinks are not straddled). Ints: inclusive. */
  range?: [number, number];
  /** Overrides the spec's `dynamic` for this input (e.g. a static weight beside a dynamic batch). */
  dynamic?: boolean;
}

export interface VjpSpec {
  /** Op type of the single node (when `build` is not given). */
  op?: string;
  /** Node attributes; a function receives the float element type (for Cast `to` etc.). */
  attrs?: Record<string, AttrInput> | ((floatType: number) => Record<string, AttrInput>);
  /** Node inputs in order; null = absent optional input (''). */
  inputs: (InputSpec | null)[];
  /** Number of node outputs (default 1). */
  outputs?: number;
  /** Indices of outputs that enter L (default: every output). */
  lossOutputs?: number[];
  /** Builds a small graph instead of one node; returns the outputs that may enter L. */
  build?: (b: GraphBuilder, inputs: string[], floatType: number) => string[];
  /** Default-domain opset of the model (default 17). */
  opset?: number;
  /** 'auto' (default): float64 when ORT can run it, else float32. */
  dtype?: 'auto' | 'float64' | 'float32';
  /** Declare graph inputs with symbolic dims only, so rules must take their dynamic paths. */
  dynamic?: boolean;
  seed?: number;
}

export interface VjpOptions {
  /** Max allowed |analytic - numeric| / max(1, |numeric|). Default 1e-6 (float64) / 2e-2 (float32). */
  tol?: number;
  /** Finite-difference step. Default 1e-6 (float64) / 1e-2 (float32). */
  eps?: number;
}

export interface VjpReport {
  dtype: 'float64' | 'float32';
  /** Max |analytic - numeric| over all checked elements. */
  maxAbsErr: number;
  /** Max |analytic - numeric| / max(1, |numeric|): what `tol` bounds. */
  maxRelErr: number;
  /** Largest |gradient| seen (a check on all-zero gradients is a weak check). */
  maxGrad: number;
  /** Where the worst error is. */
  worst: string;
  /** Number of nodes buildBackward appended. */
  backwardNodes: number;
  /** The training model (forward + L + backward) that was checked. */
  model: Model;
}

/** Small deterministic PRNG (mulberry32). */
export const rng = prng;

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function randomValues(spec: InputSpec, rand: () => number): number[] {
  if (spec.values) {
    if (spec.values.length !== count(spec.shape)) throw new Error(`input values: ${spec.values.length} values for shape [${spec.shape}]`);
    return spec.values;
  }
  const kind = spec.type ?? 'float';
  const n = count(spec.shape);
  if (kind !== 'float') {
    if (!spec.range) throw new Error(`a ${kind} input needs values or a range`);
    const [lo, hi] = spec.range;
    return Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo + 1)));
  }
  if (spec.range) {
    const [lo, hi] = spec.range;
    return Array.from({ length: n }, () => lo + (hi - lo) * rand());
  }
  return Array.from({ length: n }, () => (rand() < 0.5 ? -1 : 1) * (0.1 + 0.9 * rand()));
}

const KIND_TYPE: Record<Exclude<InputKind, 'float'>, number> = { int64: DataType.INT64, int32: DataType.INT32, bool: DataType.BOOL };

function ortTensor(kind: InputKind, floatType: number, shape: number[], values: number[]): ort.Tensor {
  if (kind === 'float')
    return floatType === DataType.DOUBLE ? new ort.Tensor('float64', Float64Array.from(values), shape) : new ort.Tensor('float32', Float32Array.from(values), shape);
  if (kind === 'int64') return new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), shape);
  if (kind === 'int32') return new ort.Tensor('int32', Int32Array.from(values), shape);
  return new ort.Tensor('bool', Uint8Array.from(values), shape);
}

function irVersionFor(opset: number): number {
  return opset >= 21 ? 10 : opset >= 19 ? 9 : 8;
}

interface Built {
  model: Model;
  /** Graph input name per spec input (undefined for absent ones). */
  names: (string | undefined)[];
  outputs: string[];
}

/** The forward graph; `withLoss` appends L given R values per loss output. */
function buildForward(spec: VjpSpec, floatType: number, values: number[][], rValues?: { shape: number[]; values: number[] }[]): Built {
  const opset = spec.opset ?? 17;
  const graph = new Graph();
  graph.name = 'check_vjp';
  const b = new GraphBuilder(graph);
  const names: (string | undefined)[] = [];
  spec.inputs.forEach((inp, i) => {
    if (!inp) {
      names.push(undefined);
      return;
    }
    const kind = inp.type ?? 'float';
    const elem = kind === 'float' ? floatType : KIND_TYPE[kind];
    const name = b.claim(`x${i}`, 'the checker');
    names.push(name);
    const constant = inp.constant ?? kind !== 'float';
    if (constant) graph.initializers.push(makeTensor(name, elem, inp.shape, values[i]));
    else graph.inputs.push({ name, type: tensorType(elem, (inp.dynamic ?? spec.dynamic) ? inp.shape.map((_, d) => `${name}_d${d}`) : inp.shape) });
  });
  let outputs: string[];
  if (spec.build) outputs = spec.build(b, names.map((n) => n ?? ''), floatType);
  else {
    if (!spec.op) throw new Error('a spec needs op or build');
    const attrs = typeof spec.attrs === 'function' ? spec.attrs(floatType) : (spec.attrs ?? {});
    outputs = b.add(spec.op, names.map((n) => n ?? ''), attrs, { outputs: spec.outputs ?? 1 });
  }
  const lossOutputs = spec.lossOutputs ?? outputs.map((_, i) => i);
  if (!rValues) {
    graph.outputs = lossOutputs.map((k) => ({ name: outputs[k] }));
  } else {
    const terms = lossOutputs.map((k, j) => {
      const r = b.constant(`r${j}`, floatType, rValues[j].shape, rValues[j].values);
      return b.op('ReduceSum', [b.op('Mul', [outputs[k], r])], { keepdims: 0 });
    });
    const L = terms.length === 1 ? b.op('Identity', terms, {}, 'L') : b.op('Sum', terms, {}, 'L');
    graph.outputs = [{ name: L, type: tensorType(floatType, []) }];
  }
  const model: Model = { irVersion: irVersionFor(opset), opsetImports: [{ domain: '', version: opset }], producerName: 'check-vjp', graph };
  return { model, names, outputs };
}

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'disabled',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  logSeverityLevel: 3,
};

export async function session(model: Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelToBytes(model), SESSION_OPTIONS);
}

function toNumbers(t: ort.Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

async function runOnce(spec: VjpSpec, floatType: number, opts: VjpOptions): Promise<VjpReport> {
  const rand = rng(spec.seed ?? 1234);
  const values = spec.inputs.map((inp) => (inp ? randomValues(inp, rand) : []));
  const f64 = floatType === DataType.DOUBLE;

  // Pass 1: learn the output shapes, to draw R.
  const plain = buildForward(spec, floatType, values);
  const feedsFor = (built: Built, vals: number[][]) => {
    const feeds: Record<string, ort.Tensor> = {};
    spec.inputs.forEach((inp, i) => {
      const name = built.names[i];
      if (inp && name && built.model.graph.input(name)) feeds[name] = ortTensor(inp.type ?? 'float', floatType, inp.shape, vals[i]);
    });
    return feeds;
  };
  const s0 = await session(plain.model);
  const outs = await s0.run(feedsFor(plain, values));
  const rValues = plain.model.graph.outputs.map((o) => {
    const t = outs[o.name];
    return { shape: [...t.dims], values: Array.from({ length: t.size }, () => rand() * 2 - 1) };
  });
  await s0.release();

  // Forward + L (for finite differences) and forward + L + backward (analytic).
  const fwd = buildForward(spec, floatType, values, rValues);
  const train = buildForward(spec, floatType, values, rValues);
  const diff = spec.inputs.flatMap((inp, i) => (inp && (inp.grad ?? (inp.type ?? 'float') === 'float') ? [i] : []));
  for (const i of diff) if (train.model.graph.initializer(train.names[i]!)) throw new Error(`input ${i} is checked but constant; set constant: false`);
  const params = diff.map((i) => train.names[i]!);
  const before = train.model.graph.nodes.length;
  const grads = buildBackward(train.model.graph, { loss: 'L', params, opset: spec.opset ?? 17 });
  for (const p of params) {
    const g = grads.get(p);
    if (g !== `${p}_grad`) throw new Error(`buildBackward named the gradient of ${p} '${g}', expected '${p}_grad'`);
    train.model.graph.outputs.push({ name: g });
  }
  const sFwd = await session(fwd.model);
  const sTrain = await session(train.model);
  try {
    const res = await sTrain.run(feedsFor(train, values));
    const L0 = toNumbers(res.L)[0];
    const L0f = toNumbers((await sFwd.run(feedsFor(fwd, values))).L)[0];
    if (Math.abs(L0 - L0f) > 1e-6 * Math.max(1, Math.abs(L0))) throw new Error(`L differs between the forward (${L0f}) and training (${L0}) graphs`);

    const eps = opts.eps ?? (f64 ? 1e-6 : 1e-2);
    let maxAbsErr = 0;
    let maxRelErr = 0;
    let maxGrad = 0;
    let worst = 'none';
    for (const i of diff) {
      const g = res[`${params[diff.indexOf(i)]}_grad`];
      const shape = spec.inputs[i]!.shape;
      if (g.dims.join() !== shape.join()) throw new Error(`gradient of input ${i} has shape [${g.dims}], expected [${shape}]`);
      const analytic = toNumbers(g);
      for (let k = 0; k < analytic.length; k++) {
        const evalAt = async (delta: number) => {
          const vals = values.map((v, j) => (j === i ? v.map((x, m) => (m === k ? x + delta : x)) : v));
          return toNumbers((await sFwd.run(feedsFor(fwd, vals))).L)[0];
        };
        const numeric = ((await evalAt(eps)) - (await evalAt(-eps))) / (2 * eps);
        const abs = Math.abs(analytic[k] - numeric);
        const rel = abs / Math.max(1, Math.abs(numeric));
        maxGrad = Math.max(maxGrad, Math.abs(analytic[k]));
        if (!(rel <= maxRelErr)) {
          maxRelErr = Number.isNaN(rel) ? Infinity : rel;
          worst = `input ${i} element ${k}: analytic ${analytic[k]}, numeric ${numeric}`;
        }
        maxAbsErr = Math.max(maxAbsErr, Number.isNaN(abs) ? Infinity : abs);
      }
    }
    return {
      dtype: f64 ? 'float64' : 'float32',
      maxAbsErr,
      maxRelErr,
      maxGrad,
      worst,
      backwardNodes: train.model.graph.nodes.length - before,
      model: train.model,
    };
  } finally {
    await sFwd.release();
    await sTrain.release();
  }
}

/**
 * ORT refuses a model at session creation when it has no kernel for an op at that type, or (for
 * ops whose schema it checks first, e.g. Celu) when the schema lists no double type.
 */
function isMissingKernel(e: unknown): boolean {
  return /NOT_IMPLEMENTED|Could not find an implementation|not implemented|type.*not supported|Type \(tensor\(double\)\)|Type 'tensor\(double\)' of input parameter/i.test(String(e));
}

/** Checks dL/dx of the spec against finite differences; throws when over tolerance. */
export async function checkVjp(spec: VjpSpec, opts: VjpOptions = {}): Promise<VjpReport> {
  const want = spec.dtype ?? 'auto';
  let report: VjpReport;
  if (want === 'float32') report = await runOnce(spec, DataType.FLOAT, opts);
  else
    try {
      report = await runOnce(spec, DataType.DOUBLE, opts);
    } catch (e) {
      if (want === 'float64' || !isMissingKernel(e)) throw e;
      report = await runOnce(spec, DataType.FLOAT, opts);
    }
  if (process.env.VJP_LOG) console.log(`VJP ${spec.op ?? 'graph'} ${report.dtype} rel ${report.maxRelErr.toExponential(2)} abs ${report.maxAbsErr.toExponential(2)} maxGrad ${report.maxGrad.toFixed(3)} nodes ${report.backwardNodes}`);
  const tol = opts.tol ?? (report.dtype === 'float64' ? 1e-6 : 2e-2);
  if (!(report.maxRelErr <= tol))
    throw new Error(`${spec.op ?? 'graph'} (${report.dtype}): gradient error ${report.maxRelErr.toExponential(2)} over tolerance ${tol}; worst at ${report.worst}`);
  return report;
}
