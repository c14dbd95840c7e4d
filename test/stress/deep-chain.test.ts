/**
 * A long graph under the node limit goes through load, inspect and build without a stack
 * overflow (every walk over the graph is iterative) and in time linear in its length (a
 * weight read by every node once made gradient summing quadratic: src/grad/backward.ts).
 */
import { expect, it } from 'vitest';
import { DataType } from '../../src/onnx/data-types.js';
import { loadModelFromBytes } from '../../src/ir/model-io.js';
import { compileBuild } from '../../src/passes/pipeline.js';
import { inspectModel } from '../../src/api/inspect.js';
import { chainModel } from '../helpers/bomb-models.js';

it('a chain of 30,000 Add nodes, each reading one shared weight, builds', { timeout: 300_000 }, () => {
  const m = loadModelFromBytes(chainModel(30_000, 'Add'), { source: 'chain.onnx' });
  const type = { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'batch' }, { dim_value: 4 }] } } };
  m.graph.inputs = [{ name: 'input', type }];
  m.graph.outputs[0].type = type;
  m.graph.nodes[0].inputs[0] = 'input';
  m.graph.initializers.push({ name: 'x', dataType: DataType.FLOAT, dims: [4], data: new Float32Array(4) });
  expect(inspectModel(m).nodes).toBe(30_000);
  const t0 = performance.now();
  const p = compileBuild(m, { loss: 'mse' });
  expect(p.step.parameters.map((x) => x.name)).toEqual(['x']);
  expect((performance.now() - t0) / 1000).toBeLessThan(120);
});
