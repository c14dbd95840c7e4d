/**
 * What lion-onnx knows about a model on its way to a training program, carried on the IR
 * (Model.program) from pass to pass and never written into ONNX: which tensors are trained
 * (parameter discovery), the loss, each parameter's gradient value, and the step graph's
 * contract — the roles of its inputs and outputs, which the manifest records.
 */
import type { Dim } from './value-type.js';
import type { Tensor } from '../onnx/tensor.js';

export type ParamGroup = 'decay' | 'no_decay' | 'frozen';

/** Where a parameter came from, for `build`'s report. */
export type ParameterSource = 'initializer' | 'input';

/** One float tensor parameter discovery looked at: trained or left alone, and why. */
export interface ParameterPlan {
  name: string;
  shape: number[];
  dtype: string;
  trainable: boolean;
  /** Why (e.g. "matched --params", "an onnx:: constant", "does not reach the loss"). */
  reason: string;
  source: ParameterSource;
}

export interface LossInfo {
  name: string;
  kind?: string;
  modelOutput?: string;
  target?: string;
  classes?: number;
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
  /** discover-parameters: every float tensor considered, trained or not. */
  parameters?: ParameterPlan[];
  /** append-loss: the loss value and how it was built. */
  loss?: LossInfo;
  /** differentiate (build) or find-gradients (rewrite): each parameter's gradient value, in parameter order. */
  gradients?: { param: string; grad: string }[];
  /** insert-optimizer: the step graph's contract. */
  step?: StepContract;
}
