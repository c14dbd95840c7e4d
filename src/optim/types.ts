/**
 * What an optimizer declares (one file per optimizer, listed in registry.ts): its
 * hyperparameters — CLI flag, graph input, default, valid range, and whether the runtime
 * computes it per step — its build-time options, its per-parameter state slots, and how it
 * emits its update as ONNX nodes. The CLI's flags, the manifest's checks and the session's
 * feeds are derived from these declarations; nothing outside optim/ names an optimizer.
 */
import type { GraphBuilder } from '../ir/builder.js';

/** Hyperparameter values by key (beta1, beta2, weightDecay, eps, momentum…). */
export type Hyperparameters = Record<string, number>;

export interface HyperparameterSpec {
  /** Key in manifests, checkpoints and the API (`weightDecay`). */
  key: string;
  /** Command-line flag (`--weight-decay`); several optimizers may share one. */
  flag: string;
  /** Float64 scalar graph input of the step graph (`lion.weight_decay`). */
  input: string;
  /** What it is, for --help. */
  describe: string;
  /**
   * Computed by the runtime for every step instead of set by the user: `lr` from the schedule,
   * `step` the 1-based step count (a [K] vector in the loop graph).
   */
  perStep?: 'lr' | 'step';
  /** Default (user-set keys only). */
  default?: number;
  /** Valid values: lower and upper bound, each inclusive unless marked open. */
  range?: { min: number; max: number; maxOpen?: boolean };
}

/** A build-time option: it changes the emitted graph, so it is fixed by build/rewrite. */
export interface OptionSpec {
  key: string;
  flag: string;
  describe: string;
}

/** Value names of one parameter's update. */
export interface UpdateNames {
  param: string;
  grad: string;
  /** State inputs, one per slot. */
  state: string[];
  paramOut: string;
  stateOut: string[];
}

/** Emits one parameter's update; `decay` false leaves out weight decay (the no-decay group). */
export type UpdateEmitter = (n: UpdateNames, decay: boolean) => void;

export interface Optimizer {
  name: string;
  /** One line for --help. */
  describe: string;
  /** State tensors per parameter, shaped like it: `<p>.<slot>` in, `<p>.<slot>.out` out. */
  slots: string[];
  /** Always includes the `lr` key (perStep 'lr'). */
  hyperparameters: HyperparameterSpec[];
  options?: OptionSpec[];
  /**
   * Emits the scalars shared by every parameter of one element type (outside the non-finite
   * guard) and returns the emitter of each parameter's update (inside it).
   */
  prepare(b: GraphBuilder, elemType: number, options: Record<string, boolean>): UpdateEmitter;
  /**
   * The state slot that keeps a non-finite gradient: its update is a·old + b·g (+ …) with
   * a ≥ 0 and b > 0, so a NaN or ±Inf gradient element makes that element NaN or ±Inf, and it
   * stays so in every later update (0·Inf = NaN). The K-step loop then checks that slot once,
   * after its K steps, instead of every gradient on every step (loop-steps.ts). Absent: the
   * loop checks every step.
   */
  nonFiniteStaysIn?: number;
}
