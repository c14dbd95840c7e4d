/**
 * The pipeline: every pass from a model to its whole training program, in one place.
 *
 *   build:   check-nodes → upgrade-opset → discover-parameters          (import)
 *            → append-loss → differentiate                                (training)
 *            → insert-optimizer                                           (optimizer)
 *            → loop-steps, derive-eval, derive-gradients, derive-apply    (runtime graphs)
 *   rewrite: check-nodes → find-gradients → insert-optimizer → loop-steps, derive-gradients,
 *            derive-apply
 *
 * Each pass maps a model to a new one (passes/pass.ts); what they learn (parameters, loss,
 * gradients, the step's contract) travels on the IR (ir/program.ts). `runBuild` can stop after
 * any pass and returns the IR made so far; `compileBuild`/`compileRewrite` give the program
 * artifacts/write.ts serializes. The inference model for export is the source, untouched.
 */
import { defaultOpset, type Model } from '../ir/graph.js';
import type { LossInfo } from '../ir/program.js';
import { runPass, type PassContext } from './pass.js';
import { checkNodesPass } from './import/check-nodes.js';
import { upgradeOpsetPass } from './import/upgrade-opset.js';
import { discoverParametersPass, type DiscoverOptions } from './import/discover-parameters.js';
import { findGradientsPass, type FindGradientsOptions } from './import/find-gradients.js';
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
}

export type RewriteOptions = FindGradientsOptions & OptimizerChoice;

export interface TrainingProgram {
  step: StepProgram;
  loop: Model;
  eval?: Model;
  grad: Model;
  apply: Model;
  /** The model export writes trained weights into (build: the source model; rewrite: the graph as given). */
  inference: Model;
  loss?: LossInfo;
}

export const BUILD_PASSES = ['check-nodes', 'upgrade-opset', 'discover-parameters', 'append-loss', 'differentiate', 'insert-optimizer', 'loop-steps', 'derive-eval', 'derive-gradients', 'derive-apply'] as const;
export const REWRITE_PASSES = ['check-nodes', 'find-gradients', 'insert-optimizer', 'loop-steps', 'derive-gradients', 'derive-apply'] as const;
export type BuildPass = (typeof BUILD_PASSES)[number];
export type RewritePass = (typeof REWRITE_PASSES)[number];

export interface BuildRun {
  /** The model each pass made, by pass name (up to `until`). */
  models: Partial<Record<BuildPass, Model>>;
  /** The whole program, when the run went to the end. */
  program?: TrainingProgram;
}

/** Runs the build pipeline on `source`, stopping after `until` (default: the last pass). */
export function runBuild(source: Model, opts: BuildOptions, run: { until?: BuildPass; ctx?: PassContext } = {}): BuildRun {
  const ctx = run.ctx ?? {};
  const models: BuildRun['models'] = {};
  const stop = (name: BuildPass, m: Model) => {
    models[name] = m;
    return run.until === name;
  };
  let m = runPass(checkNodesPass, source, undefined, ctx).model;
  if (stop('check-nodes', m)) return { models };
  m = runPass(upgradeOpsetPass, m, undefined, ctx).model;
  if (stop('upgrade-opset', m)) return { models };
  m = runPass(discoverParametersPass, m, { params: opts.params, frozen: opts.frozen }, ctx).model;
  if (stop('discover-parameters', m)) return { models };
  const withLoss = runPass(appendLossPass, m, { loss: opts.loss, output: opts.output, targetName: opts.targetName }, ctx).model;
  if (stop('append-loss', withLoss)) return { models };
  const training = runPass(differentiatePass, withLoss, undefined, ctx).model;
  if (stop('differentiate', training)) return { models };
  const optimizer: OptimizerChoice = { optimizer: opts.optimizer, optimizerOptions: opts.optimizerOptions, hyperparameters: opts.hyperparameters, nonFinite: opts.nonFinite, groups: { noDecay: opts.noDecay }, loss: withLoss.program!.loss!.name };
  const stepModel = runPass(insertOptimizerPass, training, optimizer, ctx).model;
  if (stop('insert-optimizer', stepModel)) return { models };
  const step: StepProgram = { ...stepModel.program!.step!, model: stepModel };
  const loop = runPass(loopStepsPass, stepModel, undefined, ctx).model;
  if (stop('loop-steps', loop)) return { models };
  const evalModel = runPass(deriveEvalPass, withLoss, { trained: training.program!.gradients!.map((g) => g.param) }, ctx).model;
  if (stop('derive-eval', evalModel)) return { models };
  const grad = runPass(deriveGradientsPass, training, { step }, ctx).model;
  if (stop('derive-gradients', grad)) return { models };
  const apply = runPass(deriveApplyPass, stepModel, { opset: defaultOpset(stepModel) }, ctx).model;
  stop('derive-apply', apply);
  return { models, program: { step, loop, eval: evalModel, grad, apply, inference: source, loss: withLoss.program!.loss } };
}

/** inference model -> training program (autodiff + loss + optimizer + runtime graphs). */
export function compileBuild(source: Model, opts: BuildOptions, ctx: PassContext = {}): TrainingProgram {
  return runBuild(source, opts, { ctx }).program!;
}

/** A training graph someone else built (gradients as values) -> training program. */
export function compileRewrite(source: Model, opts: RewriteOptions = {}, ctx: PassContext = {}): TrainingProgram {
  const checked = runPass(checkNodesPass, source, undefined, ctx).model;
  const training = runPass(findGradientsPass, checked, { gradSuffix: opts.gradSuffix, gradMap: opts.gradMap }, ctx).model;
  const stepModel = runPass(insertOptimizerPass, training, opts, ctx).model;
  const step: StepProgram = { ...stepModel.program!.step!, model: stepModel };
  const loop = runPass(loopStepsPass, stepModel, undefined, ctx).model;
  const grad = runPass(deriveGradientsPass, training, { step }, ctx).model;
  const apply = runPass(deriveApplyPass, stepModel, { opset: Math.max(defaultOpset(source), 13) }, ctx).model;
  return { step, loop, grad, apply, inference: source, ...(step.loss ? { loss: { name: step.loss } } : {}) };
}

/** A program without the graphs that need the training graph it came from (gradients, inference). */
export type StepOnlyProgram = Omit<TrainingProgram, 'grad' | 'inference'> & { grad?: Model; inference?: Model };

/** The runtime graphs for a step program made directly (tests, the API's insertLion). */
export function runtimeGraphs(step: StepProgram, ctx: PassContext = {}): StepOnlyProgram {
  const loop = runPass(loopStepsPass, step.model, undefined, ctx).model;
  const apply = runPass(deriveApplyPass, step.model, { opset: Math.max(defaultOpset(step.model), 13) }, ctx).model;
  return { step, loop, apply, ...(step.loss ? { loss: { name: step.loss } } : {}) };
}
