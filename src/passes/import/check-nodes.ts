/**
 * check-nodes: every default-domain node against ONNX's operator schemas (ir/node-check.ts),
 * before any other pass or onnxruntime sees the graph (onnxruntime aborts on some malformed
 * nodes). Changes nothing.
 */
import { checkNodes } from '../../ir/node-check.js';
import type { LoadedModel } from '../../ir/model-io.js';
import type { Pass } from '../pass.js';

export const checkNodesPass: Pass = {
  name: 'check-nodes',
  stage: 'import',
  needs: 'any model',
  gives: 'the same model, its nodes known to fit their operator schemas',
  run: (model) => {
    checkNodes(model, (model as LoadedModel).source);
    return { model, modified: false };
  },
};
