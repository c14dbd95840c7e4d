/**
 * derive-eval: the eval graph — forward + loss with the trained parameters as plain inputs (fed
 * by the runtime), outputs the loss and the model output. Made from append-loss's result, with
 * the parameters differentiate trained.
 */
import { cloneModel } from '../../ir/clone.js';
import { expectThat, type Pass } from '../pass.js';
import { paramsToInputs } from './params-to-inputs.js';

export const deriveEvalPass: Pass<{ trained: string[] }> = {
  name: 'derive-eval',
  stage: 'training',
  needs: 'a model with a loss (append-loss), and the trained parameters',
  gives: 'forward + loss, the trained parameters as graph inputs',
  requires: (model) => expectThat('derive-eval', 'requires', !!model.program?.loss, 'the model has no loss'),
  ensures: (out, _in, opts) => {
    for (const p of opts.trained) expectThat('derive-eval', 'ensures', !!out.graph.input(p) && !out.graph.initializer(p), `'${p}' is not a plain input`);
  },
  run: (model, opts) => {
    const out = cloneModel(model);
    paramsToInputs(out.graph, opts.trained);
    return { model: out, modified: true };
  },
};
