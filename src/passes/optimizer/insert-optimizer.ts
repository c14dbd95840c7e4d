/**
 * insert-optimizer (insert-lion): training graph -> step graph.
 *
 * Requires: a training graph whose parameters' gradient values are known (differentiate, or
 * find-gradients for a graph someone else built). Ensures: the step graph of emit-step.ts —
 * parameters and optimizer state as plain inputs, their updated values as outputs, the
 * hyperparameters as float64 scalar inputs — and its contract on the IR (`program.step`).
 * Groups: --no-decay and --frozen patterns, matched against parameter names.
 */
import { cloneModel } from '../../ir/clone.js';
import type { Model } from '../../ir/graph.js';
import type { NonFiniteMode } from '../../ir/program.js';
import { assignGroups, type GroupPatterns } from '../../optim/groups.js';
import { DEFAULT_OPTIMIZER } from '../../optim/registry.js';
import { runPass, expectThat, type Pass, type PassContext } from '../pass.js';
import { checkNodesPass } from '../import/check-nodes.js';
import { findGradientsPass, type FindGradientsOptions } from '../import/find-gradients.js';
import { emitStep, type StepProgram } from './emit-step.js';

export interface OptimizerChoice {
  /** Which update to emit (optim/registry.ts). Default Lion. */
  optimizer?: string;
  /** Build-time options of the optimizer (Lion: cautious). */
  optimizerOptions?: Record<string, boolean | undefined>;
  /** Defaults recorded in the manifest (the graph takes them as inputs); keys as in optim/. */
  hyperparameters?: Record<string, number | undefined>;
  groups?: GroupPatterns;
  /** What a step does with NaN/Inf gradients (optim/nonfinite.ts). Default 'skip'. */
  nonFinite?: NonFiniteMode;
  /** Name of the loss output; default: an output named "loss", else the only float scalar output. */
  loss?: string;
}

export const insertOptimizerPass: Pass<OptimizerChoice> = {
  name: 'insert-optimizer',
  stage: 'optimizer',
  needs: 'a training graph with each parameter\u2019s gradient value known',
  gives: 'the step graph: data, parameters, optimizer state and hyperparameters in; loss, updated parameters and state out',
  requires: (model) => expectThat('insert-optimizer', 'requires', (model.program?.gradients ?? []).length > 0, 'no gradients are known (run differentiate or find-gradients first)'),
  ensures: (out) => {
    const step = out.program?.step;
    expectThat('insert-optimizer', 'ensures', !!step, 'no step contract');
    for (const p of step!.parameters) {
      expectThat('insert-optimizer', 'ensures', !!out.graph.input(p.name) && !out.graph.initializer(p.name), `parameter '${p.name}' is not a plain input`);
      if (p.output) expectThat('insert-optimizer', 'ensures', out.graph.outputs.some((o) => o.name === p.output), `'${p.output}' is not an output`);
    }
    const inputs = new Set(out.graph.inputs.map((i) => i.name));
    for (const i of step!.inputs) expectThat('insert-optimizer', 'ensures', inputs.has(i.name), `the contract's input '${i.name}' is not a graph input`);
  },
  run: (model, opts) => {
    const out = cloneModel(model);
    const pairs = out.program!.gradients!.map((p) => ({ ...p }));
    const groups = assignGroups(pairs.map((p) => p.param), opts.groups ?? {});
    const step = emitStep(out, { pairs, groups, optimizer: opts.optimizer ?? DEFAULT_OPTIMIZER, optimizerOptions: opts.optimizerOptions, hyperparameters: opts.hyperparameters, nonFinite: opts.nonFinite ?? 'skip', loss: opts.loss });
    out.program = { ...out.program, step };
    return { model: out, modified: true };
  },
};

export type InsertOptimizerOptions = OptimizerChoice & FindGradientsOptions;
/** Kept for the API: insert-lion is insert-optimizer with Lion. */
export type InsertLionOptions = Omit<InsertOptimizerOptions, 'optimizer'>;

/** The step program of a training graph someone else built: check-nodes, find-gradients, insert-optimizer. */
export function insertOptimizer(source: Model, opts: InsertOptimizerOptions = {}, ctx: PassContext = {}): StepProgram {
  const checked = runPass(checkNodesPass, source, undefined, ctx).model;
  const found = checked.program?.gradients ? checked : runPass(findGradientsPass, checked, { gradSuffix: opts.gradSuffix, gradMap: opts.gradMap }, ctx).model;
  const m = runPass(insertOptimizerPass, found, opts, ctx).model;
  return { ...m.program!.step!, model: m };
}

export function insertLion(source: Model, opts: InsertLionOptions = {}, ctx: PassContext = {}): StepProgram {
  return insertOptimizer(source, { ...opts, optimizer: 'lion' }, ctx);
}
