/**
 * upgrade-opset: raises the default-domain opset to the one lion-onnx works in.
 *
 * Models at opset 13–15 are raised to 16: the changes in 14–16 only add types and attributes
 * with defaults that keep old behaviour, so no node changes, and backward rules may use
 * ScatterElements' reduction. Models below 13 are refused (for now) with what to do.
 */
import { GraphError } from '../../errors.js';
import { cloneModel } from '../../ir/clone.js';
import { defaultOpset } from '../../ir/graph.js';
import { expectThat, type Pass } from '../pass.js';

export const MIN_OPSET = 13;
export const WORKING_OPSET = 16;

export const upgradeOpsetPass: Pass = {
  name: 'upgrade-opset',
  stage: 'import',
  needs: `a model importing the default ONNX domain at opset ${MIN_OPSET} or later`,
  gives: `the same graph at opset ${WORKING_OPSET} or later`,
  requires: (model) => {
    const opset = defaultOpset(model);
    if (opset < MIN_OPSET)
      throw new GraphError(`the model imports ONNX opset ${opset || '(none)'}; lion-onnx needs opset ${MIN_OPSET} or later — re-export it (torch.onnx.export(..., opset_version=17))`);
  },
  ensures: (out) => expectThat('upgrade-opset', 'ensures', defaultOpset(out) >= WORKING_OPSET, `the result imports opset ${defaultOpset(out)}`),
  run: (model) => {
    upgradeOpsetPass.requires!(model);
    if (defaultOpset(model) >= WORKING_OPSET) return { model, modified: false };
    const out = cloneModel(model);
    for (const o of out.opsetImports) if (!o.domain || o.domain === 'ai.onnx') o.version = WORKING_OPSET;
    return { model: out, modified: true };
  },
};
