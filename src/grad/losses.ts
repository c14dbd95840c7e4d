/**
 * Loss builders: append a scalar loss over one model output and a new graph input for the
 * target, in ops the backward walk has rules for (so the loss differentiates like any graph).
 */
import { GraphError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import type { Graph } from '../ir/graph.js';
import { formatShape, tensorType } from '../ir/value-type.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import { reduceMean, scalarLike, squeeze, unsqueeze } from './emit.js';
import { FLOAT_TYPES, ShapeInfo } from '../ir/shape-info.js';
import type { Emitter } from './types.js';

export type LossKind = 'cross-entropy' | 'mse' | 'bce';

export interface LossOptions {
  kind: LossKind;
  /** The model output the loss applies to (logits for cross-entropy and bce). */
  output: string;
  /** Name of the new graph input holding the target; default 'target'. */
  targetName?: string;
  /** Cross-entropy only: element type of the class indices; default int64. */
  targetType?: 'int64' | 'int32';
  /**
   * The output is a probability, not a logit: bce is BCE on probabilities (torch's BCELoss),
   * cross-entropy the NLL of their log (torch's NLLLoss(log p)), p clipped to [1e-7, 1].
   */
  probabilities?: boolean;
  opset: number;
}

/**
 * Appends the loss and its target input; returns their names. The caller decides the graph's
 * outputs.
 *
 * - cross-entropy: class scores on the last axis, any leading dims [..., C]; integer class
 *   indices shaped [...]; mean over all positions of -log_softmax(x)[target] (PyTorch's
 *   F.cross_entropy on the flattened logits). A target outside [-C, C) contributes 0.
 * - mse: mean((y - t)²), t shaped and typed like y.
 * - bce: binary cross-entropy on logits, mean of max(x,0) - x·t + log(1 + exp(-|x|)); with
 *   `probabilities`, on probabilities p: mean of -(t·log p + (1 - t)·log(1 - p)), p clipped to
 *   [1e-7, 1 - 1e-7] (torch's BCELoss clamps the logs at -100 instead; they differ only where p
 *   is within 1e-7 of 0 or 1, where the clip also stops the gradient).
 */
export function appendLoss(graph: Graph, opts: LossOptions): { loss: string; target: string } {
  const { kind, output, opset } = opts;
  const info = new ShapeInfo(graph, opset);
  const where = `the ${kind} loss on output '${output}'`;
  if (!graph.input(output) && !graph.initializer(output) && !graph.nodes.some((n) => n.outputs.includes(output)))
    throw new GraphError(`${where}: '${output}' is not a value of the graph; name one of the model's outputs`);
  const type = info.elemType(output);
  if (type === undefined) throw new GraphError(`${where}: the output's element type is unknown; give the model's outputs types (or run ONNX shape inference)`);
  if (!FLOAT_TYPES.has(type)) throw new GraphError(`${where}: the output is ${dataTypeName(type)}; a loss needs floating-point scores — pick a float output`);
  const shape = info.shape(output);

  const b = new GraphBuilder(graph, { scope: 'loss/' });
  const e: Emitter = { b, opset, shape: (n) => info.shape(n), elemType: (n) => info.elemType(n), value: (n) => info.value(n) };
  const target = b.claim(opts.targetName ?? 'target', `${where} (its target input)`);

  let perElement: string;
  if (kind === 'cross-entropy') {
    if (!shape) throw new GraphError(`${where}: the output's rank is unknown; give the model's outputs shapes (or run ONNX shape inference)`);
    if (shape.length === 0) throw new GraphError(`${where}: the output is a scalar; cross-entropy needs class scores on the last axis`);
    if (shape[shape.length - 1] === 1)
      throw new GraphError(`${where}: the output has 1 class on its last axis (shape ${formatShape(shape)}); cross-entropy needs 2 or more — use the bce loss for one logit`);
    const indexType = opts.targetType === 'int32' ? DataType.INT32 : DataType.INT64;
    graph.inputs.push({ name: target, type: tensorType(indexType, shape.slice(0, -1)) });
    perElement = negLogLikelihood(e, output, target, indexType, opts.probabilities);
  } else if (kind === 'mse' || kind === 'bce') {
    graph.inputs.push({ name: target, type: tensorType(type, shape) });
    perElement = kind === 'mse' ? squaredError(e, output, target) : opts.probabilities ? binaryCrossEntropyOnProbabilities(e, output, target) : binaryCrossEntropy(e, output, target);
  } else throw new GraphError(`unknown loss '${String(kind)}'; use cross-entropy, mse or bce`);
  return { loss: reduceMean(e, perElement, undefined, false, 'loss'), target };
}

/**
 * -log_softmax(x)[target] per position (with `probabilities`, -log(p)[target]), picked with
 * GatherElements: a one-hot mask would cost three full passes over the scores (and its
 * gradient two more). The gradient of LogSoftmax → GatherElements is one expression,
 * softmax − one-hot (rules/softmax-cross-entropy.ts). An index outside [-C, C) fails the run
 * (train checks the labels first).
 */
function negLogLikelihood(e: Emitter, logits: string, target: string, indexType: number, probabilities?: boolean): string {
  const { b } = e;
  const logp = probabilities ? b.op('Log', [b.op('Clip', [logits, scalarLike(e, logits, 1e-7), scalarLike(e, logits, 1)])]) : b.op('LogSoftmax', [logits], { axis: -1 });
  const idx = indexType === DataType.INT64 ? target : b.op('Cast', [target], { to: DataType.INT64 });
  // GatherElements wants indices of the scores' rank: a trailing axis of 1 (for a single [C] row, [1]).
  const rank = e.shape(logits)?.length;
  const at = rank === 1 ? unsqueeze(e, idx, [0]) : unsqueeze(e, idx, [-1]);
  const picked = b.op('GatherElements', [logp, at], { axis: -1 });
  return b.op('Neg', [rank === 1 ? squeeze(e, picked, [0]) : squeeze(e, picked, [-1])]);
}

function squaredError(e: Emitter, y: string, t: string): string {
  const d = e.b.op('Sub', [y, t]);
  return e.b.op('Mul', [d, d]);
}

/**
 * max(x,0) - x·t + log(1 + exp(-|x|)), stable for any |x|. -|x| is written as x·s with
 * s = (x > 0 ? -1 : 1) so that at x = 0 both kinks take the same side and the gradient is the
 * true σ(0) - t = 0.5 - t (a zero-initialized head starts exactly there).
 */
function binaryCrossEntropy(e: Emitter, x: string, t: string): string {
  const { b } = e;
  const s = b.op('Where', [b.op('Greater', [x, scalarLike(e, x, 0)]), scalarLike(e, x, -1), scalarLike(e, x, 1)]);
  const softplusNegAbs = b.op('Log', [b.op('Add', [scalarLike(e, x, 1), b.op('Exp', [b.op('Mul', [x, s])])])]);
  return b.op('Add', [b.op('Sub', [b.op('Relu', [x]), b.op('Mul', [x, t])]), softplusNegAbs]);
}

/** -(t·log p + (1 - t)·log(1 - p)) with p clipped into [1e-7, 1 - 1e-7], so neither log is infinite. */
function binaryCrossEntropyOnProbabilities(e: Emitter, p: string, t: string): string {
  const { b } = e;
  const q = b.op('Clip', [p, scalarLike(e, p, 1e-7), scalarLike(e, p, 1 - 1e-7)]);
  const one = scalarLike(e, p, 1);
  const pos = b.op('Mul', [t, b.op('Log', [q])]);
  const neg = b.op('Mul', [b.op('Sub', [one, t]), b.op('Log', [b.op('Sub', [one, q])])]);
  return b.op('Neg', [b.op('Add', [pos, neg])]);
}
