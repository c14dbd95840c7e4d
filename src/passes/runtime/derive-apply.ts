/**
 * derive-apply: the update alone, for gradient accumulation — parameters, optimizer state,
 * hyperparameters and one gradient input per trained parameter (named like its gradient
 * value) in, the updated parameters and state out. The same emission as the step graph
 * (emit-step.ts), on a graph that holds nothing else, with the step's groups as they are.
 */
import { Graph, type Model } from '../../ir/graph.js';
import { tensorType } from '../../ir/value-type.js';
import { emitStep } from '../optimizer/emit-step.js';
import { expectThat, type Pass } from '../pass.js';

export const deriveApplyPass: Pass<{ opset: number }> = {
  name: 'derive-apply',
  stage: 'runtime',
  needs: 'a step graph with its contract (insert-optimizer)',
  gives: 'gradients, parameters, state and hyperparameters in; the update out',
  requires: (model) => expectThat('derive-apply', 'requires', !!model.program?.step, 'no step contract'),
  ensures: (out) => expectThat('derive-apply', 'ensures', !!out.program?.step && out.graph.nodes.length > 0, 'no update emitted'),
  run: (model, { opset }) => {
    const step = model.program!.step!;
    const g = new Graph();
    g.name = 'lion_apply';
    const trained = step.parameters.filter((p) => p.group !== 'frozen');
    for (const p of trained) {
      const init = step.initialParams.find((t) => t.name === p.name)!;
      g.initializers.push(init);
      g.inputs.push({ name: p.grad, type: tensorType(init.dataType, p.shape) });
    }
    const m: Model = { irVersion: 8, opsetImports: [{ domain: '', version: opset }], producerName: 'lion-onnx', graph: g };
    const contract = emitStep(m, {
      pairs: trained.map((p) => ({ param: p.name, grad: p.grad })),
      groups: new Map(trained.map((p) => [p.name, p.group])),
      optimizer: step.optimizer,
      optimizerOptions: step.optimizerOptions,
      hyperparameters: step.hyperparameters,
      nonFinite: step.nonFinite,
    });
    m.program = { step: contract };
    return { model: m, modified: true };
  },
};
