/**
 * The pipeline: every pass from a model to its whole training program, in one place.
 *
 *   build:   check-nodes → upgrade-opset → bind-constants → constants-to-initializers
 *            → untie-deduplicated → name-folded-weights → free-batch-dim → fold-constant-if
 *            → batch-axes → discover-parameters                              (import)
 *            → append-loss → differentiate                                (training)
 *            → insert-optimizer                                           (optimizer)
 *            → loop-steps, derive-eval, derive-gradients, derive-apply    (runtime graphs)
 *   rewrite: check-nodes → upgrade-opset → lower-ort-training → bind-parameters
 *            → find-gradients → insert-optimizer → loop-steps, derive-gradients, derive-apply
 *
 * Each pass maps a model to a new one (passes/pass.ts); what they learn (parameters, loss,
 * gradients, the step's contract) travels on the IR (ir/program.ts). `runBuild` can stop after
 * any pass and returns the IR made so far; `compileBuild`/`compileRewrite` give the program
 * artifacts/write.ts serializes. The inference model for export is the source, untouched.
 */
import { defaultOpset, type Model } from '../ir/graph.js';
import type { LossInfo, ParameterPlan } from '../ir/program.js';
import { runPass, type Pass, type PassContext } from './pass.js';
import { checkNodesPass } from './import/check-nodes.js';
import { upgradeOpsetPass } from './import/upgrade-opset.js';
import { foldConstantIfPass } from './import/fold-constant-if.js';
import { discoverParametersPass, type DiscoverOptions } from './import/discover-parameters.js';
import { constantsToInitializersPass } from './import/constants-to-initializers.js';
import { untieDeduplicatedPass } from './import/untie-deduplicated.js';
import { nameFoldedWeightsPass } from './import/name-folded-weights.js';
import { freeBatchDimPass } from './import/free-batch-dim.js';
import { bindConstantsPass, type ConstantValue } from './import/bind-constants.js';
import { batchAxesPass } from './import/batch-axes.js';
import { findGradientsPass, type FindGradientsOptions } from './import/find-gradients.js';
import { lowerOrtTrainingPass } from './import/lower-ort-training.js';
import { bindParametersPass, type BindOptions } from './import/bind-parameters.js';
import { appendLossPass, type AppendLossOptions } from './training/append-loss.js';
import { differentiatePass } from './training/differentiate.js';
import { deriveEvalPass } from './training/derive-eval.js';
import { insertOptimizerPass, type OptimizerChoice } from './optimizer/insert-optimizer.js';
import type { StepProgram } from './optimizer/emit-step.js';
import { loopStepsPass } from './runtime/loop-steps.js';
import { deriveGradientsPass } from './runtime/derive-gradients.js';
import { deriveApplyPass } from './runtime/derive-apply.js';

export interface BuildOptions extends DiscoverOptions, AppendLossOptions, Omit<OptimizerChoice, 'groups' | 'loss'> {
  /** Regex: parameters without weight decay. */
  noDecay?: string;
  /** Keep tensors torch's exporter merged by value as one (default: each gets its own). */
  tieDeduplicated?: boolean;
  /** Keep a batch dimension exported as 1 as it is (default: made symbolic when nothing depends on it). */
  fixedBatch?: boolean;
  /** Inputs given a fixed value (--constant): initializers from the start. */
  constants?: Record<string, ConstantValue>;
  /** Data inputs batched along another axis than 0 (--batch-axis). */
  batchAxes?: Record<string, number>;
}

export type RewriteOptions = FindGradientsOptions & OptimizerChoice & Pick<BindOptions, 'init'>;

export interface TrainingProgram {
  step: StepProgram;
  loop: Model;
  eval?: Model;
  grad: Model;
  apply: Model;
  /**
   * The model export writes trained weights into: build, the source after the import passes
   * that change its tensors (untied, renamed, Constant weights as initializers; the source itself
   * when none did); rewrite, the training graph as given.
   */
  inference: Model;
  loss?: LossInfo;
  /** What discovery decided for every float tensor (build). */
  parameters?: ParameterPlan[];
  /** bind-parameters' finding (rewrite --init). */
  init?: { file: string; format: string; bound: string[]; unused: string[] };
  /** bind-constants: inputs fixed by --constant (build). */
  constants?: string[];
  /** batch-axes: data inputs batched along another axis (build). */
  batchAxes?: Record<string, number>;
  /** free-batch-dim's finding (build). */
  batch?: { freed?: string[]; fixedBy?: string };
}

export const BUILD_PASSES = ['check-nodes', 'upgrade-opset', 'bind-constants', 'constants-to-initializers', 'untie-deduplicated', 'name-folded-weights', 'free-batch-dim', 'fold-constant-if', 'batch-axes', 'discover-parameters', 'append-loss', 'differentiate', 'insert-optimizer', 'loop-steps', 'derive-eval', 'derive-gradients', 'derive-apply'] as const;
export const REWRITE_PASSES = ['check-nodes', 'upgrade-opset', 'lower-ort-training', 'bind-parameters', 'find-gradients', 'insert-optimizer', 'loop-steps', 'derive-gradients', 'derive-apply'] as const;
export type BuildPass = (typeof BUILD_PASSES)[number];
export type RewritePass = (typeof REWRITE_PASSES)[number];

/** One pass the pipeline ran: what it got, with which options, what it made. */
export interface PassStep {
  name: string;
  pass: Pass<never>;
  options: unknown;
  input: Model;
  output: Model;
  modified: boolean;
}

export interface PipelineRun<N extends string> {
  /** The model each pass made, by pass name (up to `until`). */
  models: Partial<Record<N, Model>>;
  /** The passes run, in order. */
  steps: PassStep[];
  /** The whole program, when the run went to the end. */
  program?: TrainingProgram;
}

export type BuildRun = PipelineRun<BuildPass>;
export type RewriteRun = PipelineRun<RewritePass>;

/** Runs passes in order, recording each, and tells when `until` has been reached. */
class Runner<N extends string> {
  readonly run: PipelineRun<N> = { models: {}, steps: [] };
  constructor(
    private readonly until: N | undefined,
    private readonly ctx: PassContext,
  ) {}
  done = false;
  apply<O>(name: N, pass: Pass<O>, input: Model, options: O): Model {
    const r = runPass(pass, input, options, this.ctx);
    this.run.models[name] = r.model;
    this.run.steps.push({ name, pass: pass as Pass<never>, options, input, output: r.model, modified: r.modified });
    if (this.until === name) this.done = true;
    return r.model;
  }
}

/** Runs the build pipeline on `source`, stopping after `until` (default: the last pass). */
export function runBuild(source: Model, opts: BuildOptions, run: { until?: BuildPass; ctx?: PassContext } = {}): BuildRun {
  const r = new Runner<BuildPass>(run.until, run.ctx ?? {});
  let m = r.apply('check-nodes', checkNodesPass, source, undefined);
  if (r.done) return r.run;
  // First: every later pass (and every gradient rule) reads nodes in their opset-16 form.
  m = r.apply('upgrade-opset', upgradeOpsetPass, m, undefined);
  if (r.done) return r.run;
  m = r.apply('bind-constants', bindConstantsPass, m, { constants: opts.constants });
  if (r.done) return r.run;
  m = r.apply('constants-to-initializers', constantsToInitializersPass, m, undefined);
  if (r.done) return r.run;
  m = r.apply('untie-deduplicated', untieDeduplicatedPass, m, { keep: opts.tieDeduplicated });
  if (r.done) return r.run;
  m = r.apply('name-folded-weights', nameFoldedWeightsPass, m, undefined);
  if (r.done) return r.run;
  m = r.apply('free-batch-dim', freeBatchDimPass, m, { keep: opts.fixedBatch });
  if (r.done) return r.run;
  // What export writes the trained weights into: the model as the import passes left its
  // tensors (untied, renamed, re-tied, Constant weights as initializers) and its batch freed,
  // else the source itself (at its own opset: the upgrade changes no tensor).
  const rewritten = !!m.program?.batch?.freed || !!m.program?.constants || (m.program?.origins ?? []).some((o) => o.source === 'constant' || o.source === 'untied' || o.from !== undefined || !!o.torch?.aliases?.length);
  let inference = rewritten ? m : source;
  // After free-batch-dim: a condition on a batch exported as 1 is not known once the batch is freed.
  const unfolded = m;
  m = r.apply('fold-constant-if', foldConstantIfPass, m, undefined);
  if (r.done) return r.run;
  // Weights that lived in a folded branch are the main graph's now: export writes them there.
  if (m !== unfolded) inference = m;
  // After the inference model is taken: the export keeps the model's own layout.
  m = r.apply('batch-axes', batchAxesPass, m, { batchAxes: opts.batchAxes });
  if (r.done) return r.run;
  m = r.apply('discover-parameters', discoverParametersPass, m, { params: opts.params, frozen: opts.frozen });
  if (r.done) return r.run;
  const withLoss = r.apply('append-loss', appendLossPass, m, { loss: opts.loss, output: opts.output, targetName: opts.targetName });
  if (r.done) return r.run;
  const training = r.apply('differentiate', differentiatePass, withLoss, undefined);
  if (r.done) return r.run;
  const optimizer: OptimizerChoice = { optimizer: opts.optimizer, optimizerOptions: opts.optimizerOptions, hyperparameters: opts.hyperparameters, nonFinite: opts.nonFinite, groups: { noDecay: opts.noDecay }, loss: withLoss.program!.loss!.name };
  const stepModel = r.apply('insert-optimizer', insertOptimizerPass, training, optimizer);
  if (r.done) return r.run;
  const step: StepProgram = { ...stepModel.program!.step!, model: stepModel };
  const loop = r.apply('loop-steps', loopStepsPass, stepModel, undefined);
  if (r.done) return r.run;
  const evalModel = r.apply('derive-eval', deriveEvalPass, withLoss, { trained: training.program!.gradients!.map((g) => g.param) });
  if (r.done) return r.run;
  const grad = r.apply('derive-gradients', deriveGradientsPass, training, { step });
  if (r.done) return r.run;
  const apply = r.apply('derive-apply', deriveApplyPass, stepModel, { opset: defaultOpset(stepModel) });
  r.run.program = { step, loop, eval: evalModel, grad, apply, inference, loss: withLoss.program!.loss, parameters: training.program!.parameters, ...(training.program!.batch ? { batch: training.program!.batch } : {}), ...(training.program!.batchAxes ? { batchAxes: training.program!.batchAxes } : {}), ...(training.program!.constants ? { constants: training.program!.constants } : {}) };
  return r.run;
}

/** Runs the rewrite pipeline on a training graph someone else built, stopping after `until`. */
export function runRewrite(source: Model, opts: RewriteOptions = {}, run: { until?: RewritePass; ctx?: PassContext } = {}): RewriteRun {
  const r = new Runner<RewritePass>(run.until, run.ctx ?? {});
  const checked = r.apply('check-nodes', checkNodesPass, source, undefined);
  if (r.done) return r.run;
  const upgraded = r.apply('upgrade-opset', upgradeOpsetPass, checked, undefined);
  if (r.done) return r.run;
  const lowered = r.apply('lower-ort-training', lowerOrtTrainingPass, upgraded, undefined);
  if (r.done) return r.run;
  const bound = r.apply('bind-parameters', bindParametersPass, lowered, { init: opts.init, gradSuffix: opts.gradSuffix, gradMap: opts.gradMap });
  if (r.done) return r.run;
  // What export writes trained weights into: the graph as given, or — when it had to be
  // lowered or given its weights — the standard-ONNX graph with them as initializers.
  const inference = lowered !== upgraded || bound !== lowered ? bound : source;
  const training = r.apply('find-gradients', findGradientsPass, bound, { gradSuffix: opts.gradSuffix, gradMap: opts.gradMap });
  if (r.done) return r.run;
  const stepModel = r.apply('insert-optimizer', insertOptimizerPass, training, opts);
  if (r.done) return r.run;
  const step: StepProgram = { ...stepModel.program!.step!, model: stepModel };
  const loop = r.apply('loop-steps', loopStepsPass, stepModel, undefined);
  if (r.done) return r.run;
  const grad = r.apply('derive-gradients', deriveGradientsPass, training, { step });
  if (r.done) return r.run;
  const apply = r.apply('derive-apply', deriveApplyPass, stepModel, { opset: defaultOpset(stepModel) });
  r.run.program = { step, loop, grad, apply, inference, ...(step.loss ? { loss: { name: step.loss } } : {}), ...(bound.program?.init ? { init: bound.program.init } : {}) };
  return r.run;
}

/** inference model -> training program (autodiff + loss + optimizer + runtime graphs). */
export function compileBuild(source: Model, opts: BuildOptions, ctx: PassContext = {}): TrainingProgram {
  return runBuild(source, opts, { ctx }).program!;
}

/** A training graph someone else built (gradients as values) -> training program. */
export function compileRewrite(source: Model, opts: RewriteOptions = {}, ctx: PassContext = {}): TrainingProgram {
  return runRewrite(source, opts, { ctx }).program!;
}

/** A program without the graphs that need the training graph it came from (gradients, inference). */
export type StepOnlyProgram = Omit<TrainingProgram, 'grad' | 'inference'> & { grad?: Model; inference?: Model };

/** The runtime graphs for a step program made directly (tests, the API's insertLion). */
export function runtimeGraphs(step: StepProgram, ctx: PassContext = {}): StepOnlyProgram {
  const loop = runPass(loopStepsPass, step.model, undefined, ctx).model;
  const apply = runPass(deriveApplyPass, step.model, { opset: Math.max(defaultOpset(step.model), 13) }, ctx).model;
  return { step, loop, apply, ...(step.loss ? { loss: { name: step.loss } } : {}) };
}
