/**
 * Small hand-built models the golden pass cases read (test/fixtures/passes/models/), from the
 * built library (npm run build first): node scripts/dev/make-pass-models.mjs
 *
 * stateful.onnx: y = (x·W + Σ_layers h)·sr/16000 with x [B, 4], h [2, B, 3] (batch on axis 1,
 * like a recurrent state) and sr an int64 scalar input (like silero VAD's sample rate).
 */
import { join } from 'node:path';
import { DataType } from '../../dist/onnx/data-types.js';
import { makeTensor } from '../../dist/onnx/tensor.js';
import { Graph } from '../../dist/ir/graph.js';
import { makeAttribute } from '../../dist/ir/attributes.js';
import { tensorType } from '../../dist/ir/value-type.js';
import { saveModel } from '../../dist/ir/model-io.js';

const F = DataType.FLOAT;
const g = new Graph();
g.inputs.push({ name: 'x', type: tensorType(F, ['B', 4]) }, { name: 'h', type: tensorType(F, [2, 'B', 3]) }, { name: 'sr', type: tensorType(DataType.INT64, []) });
g.outputs.push({ name: 'y', type: tensorType(F, ['B', 3]) });
g.initializers.push(makeTensor('w', F, [4, 3], [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2]), makeTensor('axes', DataType.INT64, [1], [0]), makeTensor('rate', F, [], [16000]));
const n = (opType, inputs, outputs, attrs = []) => g.nodes.push({ opType, inputs, outputs, attributes: attrs, name: outputs[0] });
n('ReduceSum', ['h', 'axes'], ['hs'], [makeAttribute('keepdims', 0)]);
n('MatMul', ['x', 'w'], ['xw']);
n('Add', ['xw', 'hs'], ['z']);
n('Cast', ['sr'], ['srf'], [makeAttribute('to', F)]);
n('Div', ['srf', 'rate'], ['s']);
n('Mul', ['z', 's'], ['y']);
saveModel({ irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'lion-onnx scripts/dev/make-pass-models.mjs', graph: g }, join(import.meta.dirname, '../../test/fixtures/passes/models/stateful.onnx'));
