/**
 * What lion-onnx knows about a model on its way to a training program, carried on the IR
 * (Model.program) from pass to pass and never written into ONNX: which tensors are trained
 * (parameter discovery), the loss, each parameter's gradient value, and the step graph's
 * contract — the roles of its inputs and outputs, which the manifest records.
 */
import type { Dim } from './value-type.js';
import type { Tensor } from '../onnx/tensor.js';

export type ParamGroup = 'decay' | 'no_decay' | 'frozen';

/**
 * Where a tensor came from: an initializer of the model; a Constant node's value
 * (constants-to-initializers); a copy of a tensor the torch exporter had merged with it
 * (untie-deduplicated); a weight the exporter folded into another form (name-folded-weights);
 * a graph input (a training graph someone else built).
 */
export type ParameterSource = 'initializer' | 'constant' | 'untied' | 'folded' | 'input';

/** torch's view of a tensor: its state_dict name, whether the model holds it transposed, and its other names (ties). */
export interface TorchName {
  name: string;
  /** The model holds weight^T (a folded Linear): export transposes it back. */
  transposed?: boolean;
  /** Other state_dict entries that are this very tensor (an embedding tied to the output head). */
  aliases?: string[];
}

/** How the import passes changed a tensor, by its name in the working graph. */
export interface TensorOrigin {
  name: string;
  source: ParameterSource;
  /** Its name in the source model, or the tensor it was copied from. */
  from?: string;
  torch?: TorchName;
  /** What to tell the user about it (e.g. a BatchNorm folded into a Conv). */
  note?: string;
}

/** One float tensor parameter discovery looked at: trained or left alone, and why. */
export interface ParameterPlan extends TensorOrigin {
  shape: number[];
  dtype: string;
  trainable: boolean;
  /** Why (e.g. "matches --params", "BatchNormalization running statistics", "does not reach the loss"). */
  reason: string;
  /** Set by differentiate: whether the loss depends on it at all (through any op). */
  reachesLoss?: boolean;
}

export interface LossInfo {
  name: string;
  kind?: string;
  modelOutput?: string;
  target?: string;
  classes?: number;
  /**
   * When the model output is already a probability (a final Sigmoid for bce, Softmax/LogSoftmax
   * for cross-entropy): the activation's input the loss takes as its logits.
   */
  logits?: { name: string; activation: string; node: string };
  /**
   * bce on an output that is a probability without logits to take (a Sigmoid, then a mean over
   * time, or an If of Sigmoids): the loss is BCE on the probabilities (torch's BCELoss).
   */
  probabilities?: { activation: string; node: string };
}

export interface ParameterEntry {
  name: string;
  shape: number[];
  dtype: string;
  group: ParamGroup;
  /** Gradient value name in the training graph. */
  grad: string;
  /** Optimizer state, one entry per slot (Lion: the momentum `<p>.lion_m`); absent when frozen. */
  state?: { name: string; output: string }[];
  /** Updated-parameter output name (absent for frozen parameters). */
  output?: string;
}

export type InputRole = 'data' | 'param' | 'state' | 'hyperparameter';
export type OutputRole = 'loss' | 'param' | 'state' | 'output' | 'nonfinite';

export interface IoEntry<R> {
  name: string;
  role: R;
  dtype: string;
  shape?: Dim[];
  /** For param/state roles: the parameter this belongs to. */
  param?: string;
}

export type NonFiniteMode = 'skip' | 'error' | 'propagate';

/** The step graph's contract (insert-optimizer's result), as the manifest records it. */
export interface StepContract {
  optimizer: string;
  /** Build-time options of the optimizer (e.g. Lion's cautious). */
  optimizerOptions: Record<string, boolean>;
  /** Hyperparameter key -> float64 scalar graph input ([K] in the loop graph for perStep keys). */
  hyperparameterInputs: Record<string, string>;
  /** Keys the runtime computes each step (lr, and step for AdamW). */
  perStep: string[];
  parameters: ParameterEntry[];
  inputs: IoEntry<InputRole>[];
  outputs: IoEntry<OutputRole>[];
  dataInputs: string[];
  loss?: string;
  hyperparameters: Record<string, number>;
  nonFinite: NonFiniteMode;
  /** Initial parameters (the initializers' values), in parameter order. */
  initialParams: Tensor[];
}

export interface ProgramInfo {
  /** The import passes: tensors they made or renamed. */
  origins?: TensorOrigin[];
  /** discover-parameters: every float tensor considered, trained or not. */
  parameters?: ParameterPlan[];
  /** append-loss: the loss value and how it was built. */
  loss?: LossInfo;
  /** differentiate (build) or find-gradients (rewrite): each parameter's gradient value, in parameter order. */
  gradients?: { param: string; grad: string }[];
  /** bind-constants: the inputs --constant made initializers. */
  constants?: string[];
  /** batch-axes: data inputs whose batch axis (in the model's layout) is not 0. */
  batchAxes?: Record<string, number>;
  /** bind-parameters: the --init file, the tensors it gave values to, and those the graph has no place for. */
  init?: { file: string; format: string; bound: string[]; unused: string[] };
  /** lower-ort-training: each parameter's gradient value, as ONNX Runtime's accumulators read them. */
  ortGradients?: { param: string; grad: string }[];
  /** fold-constant-if: the If nodes replaced by the branch they take, with the branch taken. */
  folded?: { node: string; branch: 'then' | 'else' }[];
  /** free-batch-dim: the data inputs whose batch of 1 became symbolic, or why it stays 1. */
  batch?: { freed?: string[]; fixedBy?: string };
  /** insert-optimizer: the step graph's contract. */
  step?: StepContract;
}
