/**
 * differentiate: the backward graph (grad/backward.ts) for every trainable parameter the loss
 * reaches through differentiable ops. Parameters it does not reach (BatchNormalization's
 * running statistics, say) become untrained constants, and their plans say so. The outputs
 * become the loss, then one gradient `<param>_grad` per trained parameter.
 */
import { GraphError } from '../../errors.js';
import { cloneModel } from '../../ir/clone.js';
import { defaultOpset, type Graph } from '../../ir/graph.js';
import { nodeReads } from '../../ir/topo.js';
import { buildBackward } from '../../grad/backward.js';
import { expectThat, type Pass } from '../pass.js';
import { trainableNames } from '../import/discover-parameters.js';

/** Every value `target` depends on through any op (subgraph captures included). */
function dependsOn(g: Graph, target: string): Set<string> {
  const producer = g.producers();
  const seen = new Set<string>();
  const stack = [target];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const p = producer.get(v);
    if (p) stack.push(...nodeReads(p));
  }
  return seen;
}

export const differentiatePass: Pass = {
  name: 'differentiate',
  stage: 'training',
  needs: 'a model with a loss (append-loss) and trainable parameters',
  gives: 'forward + loss + backward; outputs: the loss and a gradient per trained parameter',
  requires: (model) => {
    expectThat('differentiate', 'requires', !!model.program?.loss, 'the model has no loss (run append-loss first)');
    expectThat('differentiate', 'requires', trainableNames(model.program?.parameters).length > 0, 'no trainable parameters');
  },
  ensures: (out) => {
    const grads = out.program?.gradients ?? [];
    expectThat('differentiate', 'ensures', grads.length > 0, 'no gradients');
    const outputs = new Set(out.graph.outputs.map((o) => o.name));
    for (const { param, grad } of grads) expectThat('differentiate', 'ensures', outputs.has(grad), `the gradient of '${param}' is not an output`);
  },
  run: (model) => {
    const out = cloneModel(model);
    const g = out.graph;
    const loss = out.program!.loss!;
    const lossValue = g.outputs[0];
    const grads = buildBackward(g, { loss: loss.name, params: trainableNames(out.program!.parameters), opset: defaultOpset(out), omitWithoutGradient: true });
    if (grads.size === 0) throw new GraphError(`no parameter of the model reaches the loss on '${loss.modelOutput}' through differentiable ops, so nothing would train`);
    g.outputs = [lossValue, ...[...grads].map(([param, name]) => ({ name, type: g.typeOf(param) }))];
    const reach = dependsOn(model.graph, loss.name);
    const parameters = out.program!.parameters!.map((p) =>
      p.trainable && !grads.has(p.name) ? { ...p, trainable: false, reason: 'the loss does not reach it through differentiable ops', reachesLoss: reach.has(p.name) } : { ...p, reachesLoss: reach.has(p.name) },
    );
    out.program = { ...out.program, parameters, gradients: [...grads].map(([param, grad]) => ({ param, grad })) };
    return { model: out, modified: true };
  },
};
