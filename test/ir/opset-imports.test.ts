/**
 * A model importing the default domain twice (ONNX Runtime's custom-ops test model imports
 * ai.onnx 7 and 14) is read as onnxruntime reads it: the last entry wins. And the K-step loop
 * graph keeps its step graph's opset — a loop stamped 13 around opset-12 nodes is what
 * onnxruntime refused — and refuses a step graph below 13 in one line.
 */
import { describe, expect, it } from 'vitest';
import { Graph, defaultOpset, type Model } from '../../src/ir/graph.js';
import { loopSteps } from '../../src/passes/runtime/loop-steps.js';
import { insertLion } from '../../src/passes/optimizer/insert-optimizer.js';
import { gradientsAsInputs } from '../helpers/graphs.js';

describe('opset imports', () => {
  it('the last default-domain entry wins, as in onnxruntime', () => {
    const m: Model = { irVersion: 8, opsetImports: [{ domain: '', version: 7 }, { domain: 'test.customop', version: 1 }, { domain: 'ai.onnx', version: 14 }], graph: new Graph() };
    expect(defaultOpset(m)).toBe(14);
    expect(defaultOpset({ ...m, opsetImports: [{ domain: 'com.microsoft', version: 1 }] })).toBe(0);
  });

  it('the loop graph keeps the step graph\u2019s opset, and refuses one below 13', () => {
    const src = gradientsAsInputs({ w: { dims: [2], values: [1, 2] } });
    src.opsetImports = [{ domain: '', version: 17 }];
    const step = insertLion(src, { gradMap: { w: 'w_grad' } });
    expect(defaultOpset(loopSteps(step))).toBe(17);
    const old = { ...step, model: { ...step.model, opsetImports: [{ domain: '', version: 12 }] } };
    expect(() => loopSteps(old)).toThrow(/the step graph imports ONNX opset 12; the K-step loop needs opset 13 or later/);
  });
});
