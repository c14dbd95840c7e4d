/**
 * derive-gradients: the gradient graph for gradient accumulation — data and parameters in, the
 * loss and each trained parameter's gradient out. Running it over micro-batches and the apply
 * graph (derive-apply) once on the averaged gradients equals one step on the whole batch.
 */
import { cloneModel } from '../../ir/clone.js';
import type { StepContract } from '../../ir/program.js';
import { removeDeadNodes } from '../../ir/topo.js';
import { tensorType } from '../../ir/value-type.js';
import { paramsToInputs } from '../training/params-to-inputs.js';
import { expectThat, type Pass } from '../pass.js';

export const deriveGradientsPass: Pass<{ step: StepContract }> = {
  name: 'derive-gradients',
  stage: 'runtime',
  needs: 'a training graph (gradients as values) and the step contract made from it',
  gives: 'data and parameters in; the loss and the trained parameters\u2019 gradients out',
  requires: (model) => expectThat('derive-gradients', 'requires', (model.program?.gradients ?? []).length > 0, 'no gradients are known'),
  ensures: (out, _in, { step }) => {
    const outputs = new Set(out.graph.outputs.map((o) => o.name));
    for (const p of step.parameters) if (p.group !== 'frozen') expectThat('derive-gradients', 'ensures', outputs.has(p.grad), `'${p.grad}' is not an output`);
  },
  run: (model, { step }) => {
    const m = cloneModel(model);
    const trained = step.parameters.filter((p) => p.group !== 'frozen');
    paramsToInputs(m.graph, step.parameters.map((p) => p.name));
    const g = m.graph;
    const byName = new Map(g.outputs.map((o) => [o.name, o]));
    g.outputs = [
      ...(step.loss ? [byName.get(step.loss) ?? { name: step.loss }] : []),
      ...trained.map((p) => byName.get(p.grad) ?? { name: p.grad, type: tensorType(step.initialParams.find((t) => t.name === p.name)!.dataType, p.shape) }),
    ];
    removeDeadNodes(g);
    return { model: m, modified: true };
  },
};
