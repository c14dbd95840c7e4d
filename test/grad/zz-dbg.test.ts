import { it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../src/ir/graph.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { tensorType } from '../../src/ir/value-type.js';
import { session } from './check-vjp.js';
it('ceil', async () => {
  for (const [pads, ins] of [[[0, 0, 1, 1], [4, 5]], [[0, 0, 0, 0], [5, 5]], [[1, 1, 1, 1], [5, 6]]] as const) {
    const g = new Graph();
    g.inputs = [{ name: 'x', type: tensorType(1, [1, 1, ...ins]) }];
    const b = new GraphBuilder(g);
    const y = b.op('AveragePool', ['x'], { kernel_shape: [2, 2], strides: [2, 2], pads: [...pads], ceil_mode: 1, count_include_pad: 1 });
    g.outputs = [{ name: y }];
    const s = await session({ irVersion: 8, opsetImports: [{ version: 17 }], graph: g });
    const n = ins[0] * ins[1];
    const r = (await s.run({ x: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => i), [1, 1, ...ins]) }))[y];
    console.log(pads, ins, r.dims, Array.from(r.data as Float32Array).map((v) => v.toFixed(3)).join(' '));
  }
});
