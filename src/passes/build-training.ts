/**
 * build-training: inference model -> training program.
 *
 * Requires: an ONNX model at opset >= 13 whose trainable weights are float initializers.
 * Ensures: a training graph (forward + loss + backward, gradients named `<param>_grad`), turned
 * into a Lion step graph by insert-lion; an eval graph (forward + loss, parameters as inputs);
 * graphs for gradient accumulation; and the untouched inference model for export. Models at
 * opset 13–15 are raised to 16 (the changes in 14–16 only add types and attributes with
 * defaults that keep old behaviour), so backward rules may use ScatterElements' reduction.
 */
import { GraphError, UsageError } from '../errors.js';
import { DataType, dataTypeName, isFloatType } from '../onnx/data-types.js';
import { checkNodes } from '../onnx/node-check.js';
import type { Manifest } from '../artifacts/manifest.js';
import { cloneModel } from '../ir/clone.js';
import { elemTypeOf, shapeOf, tensorType } from '../ir/value-type.js';
import { defaultOpset, type Model } from '../ir/graph.js';
import { buildBackward } from '../grad/backward.js';
import { appendLoss, type LossKind } from '../grad/losses.js';
import type { OptimizerName } from '../optim/optimizer.js';
import type { NonFiniteMode } from '../optim/nonfinite.js';
import { insertOptimizer, type StepProgram } from './insert-optimizer.js';
import { paramsToInputs } from './params-to-inputs.js';
import { applyGraph, gradientGraph } from './split-update.js';

export interface BuildOptions {
  loss: LossKind;
  /** Model output the loss is computed on; default the model's only output. */
  output?: string;
  /** Name of the new target input; default "target". */
  targetName?: string;
  /** Regex: which float initializers are parameters (default: all, except torch's `onnx::` constants). */
  params?: string;
  /** Regex: parameters that are not trained. */
  frozen?: string;
  /** Regex: parameters without weight decay. */
  noDecay?: string;
  /** Optimizer to emit (default lion) and its hyperparameter defaults (keys as in optim/). */
  optimizer?: OptimizerName;
  hyperparameters?: Record<string, number | undefined>;
  /** NaN/Inf gradients: skip the step (default), stop with an error, or propagate. */
  nonFinite?: NonFiniteMode;
}

export interface TrainingProgram {
  step: StepProgram;
  /** Forward + loss with parameters as inputs; outputs the loss, then the model output. */
  evalModel: Model;
  /** The original model, untouched: export writes trained weights into it. */
  inferenceModel: Model;
  /** Gradient accumulation: data + params -> loss + gradients. */
  gradModel: Model;
  /** Gradient accumulation: the update alone. */
  apply: StepProgram;
  loss: NonNullable<Manifest['loss']>;
}

const MIN_OPSET = 13;
const RAISED_OPSET = 16;

function regex(pattern: string | undefined, flag: string): RegExp | null {
  if (!pattern) return null;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new UsageError(`${flag} '${pattern}' is not a valid regular expression: ${(e as Error).message}`);
  }
}

/** Which initializers are trained, and which are frozen, by the user's patterns. */
export function selectParameters(model: Model, opts: Pick<BuildOptions, 'params' | 'frozen'>): { trainable: string[]; frozen: string[] } {
  const select = regex(opts.params, '--params');
  const freeze = regex(opts.frozen, '--frozen');
  const candidates = model.graph.initializers.filter((t) => (select ? select.test(t.name) : !t.name.startsWith('onnx::')));
  if (select) {
    const bad = candidates.find((t) => !isFloatType(t.dataType) || t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16);
    if (bad) throw new UsageError(`--params '${opts.params}' selects '${bad.name}', which is ${dataTypeName(bad.dataType)}; only float32/float64 tensors can be trained — narrow the pattern`);
  }
  const floats = candidates.filter((t) => t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE);
  const frozen = floats.filter((t) => freeze?.test(t.name)).map((t) => t.name);
  const trainable = floats.filter((t) => !freeze?.test(t.name)).map((t) => t.name);
  if (floats.length === 0) throw new GraphError('the model has no float32/float64 initializers, so there is nothing to train');
  if (trainable.length === 0) throw new UsageError(`--frozen '${opts.frozen}' freezes all ${floats.length} parameters, so nothing would train; narrow the pattern`);
  return { trainable, frozen };
}

export function buildTrainingProgram(source: Model, opts: BuildOptions): TrainingProgram {
  let opset = defaultOpset(source);
  if (opset < MIN_OPSET)
    throw new GraphError(`the model imports ONNX opset ${opset || '(none)'}; lion-onnx needs opset ${MIN_OPSET} or later — re-export it (torch.onnx.export(..., opset_version=17))`);
  checkNodes(source, (source as { source?: string }).source);
  const model = cloneModel(source);
  if (opset < RAISED_OPSET) {
    for (const o of model.opsetImports) if (!o.domain || o.domain === 'ai.onnx') o.version = RAISED_OPSET;
    opset = RAISED_OPSET;
  }
  const g = model.graph;
  let output = opts.output;
  if (output === undefined) {
    if (g.outputs.length !== 1)
      throw new UsageError(`the model has ${g.outputs.length} outputs (${g.outputs.map((o) => o.name).join(', ')}); name the one the loss applies to with --output`);
    output = g.outputs[0].name;
  } else if (!g.outputs.some((o) => o.name === output))
    throw new UsageError(`--output '${output}' is not an output of the model; its outputs are ${g.outputs.map((o) => o.name).join(', ')}`);

  const { trainable } = selectParameters(model, opts);
  const { loss, target } = appendLoss(g, { kind: opts.loss, output, targetName: opts.targetName, opset });
  // Typed outputs: onnxruntime infers them anyway, but users' tools (and `inspect`) read them.
  const outType = g.outputs.find((o) => o.name === output)?.type;
  const lossValue = { name: loss, type: tensorType(elemTypeOf(outType) ?? DataType.FLOAT, []) };
  const lossInfo: TrainingProgram['loss'] = { name: loss, kind: opts.loss, modelOutput: output, target };
  const outShape = shapeOf(g.outputs.find((o) => o.name === output)?.type);
  const classes = outShape?.[outShape.length - 1];
  if (opts.loss === 'cross-entropy' && typeof classes === 'number') lossInfo.classes = classes;

  // Eval: forward + loss (before the backward is added), parameters fed as inputs below.
  const evalModel = cloneModel(model);
  evalModel.graph.outputs = [lossValue, ...g.outputs.filter((o) => o.name === output)];

  // Training graph: forward + loss + backward; outputs the loss and the gradients.
  // Initializers the loss does not reach differentiably (e.g. BatchNormalization's running
  // statistics) are constants, not parameters.
  const grads = buildBackward(g, { loss, params: trainable, opset, omitWithoutGradient: true });
  if (grads.size === 0) throw new GraphError(`no parameter of the model reaches the loss on '${output}' through differentiable ops, so nothing would train`);
  g.outputs = [lossValue, ...[...grads].map(([param, name]) => ({ name, type: g.typeOf(param) }))];
  const trained = [...grads.keys()];
  paramsToInputs(evalModel, trained);
  const step = insertOptimizer(model, {
    optimizer: opts.optimizer,
    gradMap: Object.fromEntries(grads),
    groups: { noDecay: opts.noDecay },
    hyperparameters: opts.hyperparameters,
    nonFinite: opts.nonFinite,
    loss,
  });
  return {
    step,
    evalModel,
    inferenceModel: source,
    gradModel: gradientGraph(model, step),
    apply: applyGraph(step, opset),
    loss: lossInfo,
  };
}
