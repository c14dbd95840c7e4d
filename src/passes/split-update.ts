/**
 * Graphs for gradient accumulation: a gradient graph (data + params in; loss + gradients out)
 * and an apply graph (params, optimizer state, gradients, hyperparameters in; the update out).
 * Running the first over micro-batches and the second once on the averaged gradients equals
 * one step on the whole batch.
 */
import { cloneModel } from '../ir/clone.js';
import { Graph, type Model } from '../ir/graph.js';
import { removeDeadNodes } from '../ir/topo.js';
import { tensorType } from '../ir/value-type.js';
import { insertOptimizer, type StepProgram } from './insert-optimizer.js';
import { paramsToInputs } from './params-to-inputs.js';

/** `training` has the gradients as values; `step` is insertLion's result for it. */
export function gradientGraph(training: Model, step: StepProgram): Model {
  const m = cloneModel(training);
  const trained = step.parameters.filter((p) => p.group !== 'frozen');
  paramsToInputs(m, step.parameters.map((p) => p.name));
  const g = m.graph;
  const byName = new Map(g.outputs.map((o) => [o.name, o]));
  g.outputs = [
    ...(step.loss ? [byName.get(step.loss) ?? { name: step.loss }] : []),
    ...trained.map((p) => byName.get(p.grad) ?? { name: p.grad, type: tensorType(step.initialParams.find((t) => t.name === p.name)!.dataType, p.shape) }),
  ];
  removeDeadNodes(g);
  return m;
}

/** The update alone, with each trained parameter's gradient as an input named like it. */
export function applyGraph(step: StepProgram, opset: number): StepProgram {
  const g = new Graph();
  g.name = 'lion_apply';
  const trained = step.parameters.filter((p) => p.group !== 'frozen');
  for (const p of trained) {
    const init = step.initialParams.find((t) => t.name === p.name)!;
    g.initializers.push(init);
    g.inputs.push({ name: p.grad, type: tensorType(init.dataType, p.shape) });
  }
  const m: Model = { irVersion: 8, opsetImports: [{ domain: '', version: opset }], producerName: 'lion-onnx', graph: g };
  const h = step.hyperparameters;
  return insertOptimizer(m, {
    optimizer: step.optimizer,
    gradMap: Object.fromEntries(trained.map((p) => [p.name, p.grad])),
    hyperparameters: h,
    nonFinite: step.nonFinite,
    groups: { noDecay: trained.filter((p) => p.group === 'no_decay').map((p) => `^${escape(p.name)}$`).join('|') || undefined },
  });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
