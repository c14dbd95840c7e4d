/**
 * The backward walk itself: what it refuses (ops without a rule, bad arguments, name
 * collisions), what it lets through silently (shape plumbing, index paths), and what a
 * parameter without a path to the loss gets (zeros).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../src/errors.js';
import { buildBackward } from '../../src/grad/backward.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { checkVjp, session } from './check-vjp.js';

const F = DataType.FLOAT;

/** A graph with float inputs of the given shapes, built by `body`, whose result `body` returns. */
function graphOf(inputs: Record<string, number[]>, body: (b: GraphBuilder) => string): { graph: Graph; loss: string } {
  const graph = new Graph();
  graph.inputs = Object.entries(inputs).map(([name, shape]) => ({ name, type: tensorType(F, shape) }));
  const b = new GraphBuilder(graph);
  const loss = body(b);
  graph.outputs = [{ name: loss }];
  return { graph, loss };
}

const model = (graph: Graph, opset = 17): Model => ({ irVersion: 8, opsetImports: [{ domain: '', version: opset }], graph });

function thrown(f: () => unknown): GraphError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GraphError);
    return e as GraphError;
  }
  throw new Error('expected a GraphError');
}

describe('buildBackward refuses', () => {
  it('an op without a rule on a path from a parameter, naming the op, the node and the supported ops', () => {
    const { graph, loss } = graphOf({ w: [3] }, (b) => {
      const [s] = b.add('Tan', ['w'], {}, { name: 'encoder/tan0' });
      return b.op('ReduceSum', [s], { keepdims: 0 });
    });
    const e = thrown(() => buildBackward(graph, { loss, params: ['w'], opset: 17 }));
    expect(e.message).toMatch(/no gradient rule for op Tan \(node 'encoder\/tan0' \(Tan\)\)/);
    expect(e.message).toContain("parameter 'w'");
    expect(e.message).toMatch(/Supported ops: .*MatMul.*Tanh/);
    expect(e.message).not.toContain('\n');
  });

  it('an op from another domain on the path', () => {
    const { graph, loss } = graphOf({ w: [3] }, (b) => {
      b.graph.nodes.push({ opType: 'Gelu', domain: 'com.microsoft', inputs: ['w'], outputs: ['g'], attributes: [], name: 'gelu' });
      return b.op('ReduceSum', ['g'], { keepdims: 0 });
    });
    expect(thrown(() => buildBackward(graph, { loss, params: ['w'], opset: 17 })).message).toMatch(/no gradient rule for op com\.microsoft\.Gelu/);
  });

  it('a gradient name that is already taken', () => {
    const { graph, loss } = graphOf({ w: [3] }, (b) => b.op('ReduceSum', [b.op('Identity', ['w'], {}, 'w_grad')], { keepdims: 0 }));
    expect(thrown(() => buildBackward(graph, { loss, params: ['w'], opset: 17 })).message).toMatch(/named 'w_grad'/);
  });

  it('a loss that is not a scalar, or not in the graph', () => {
    const { graph } = graphOf({ w: [3] }, (b) => b.op('Tanh', ['w']));
    const loss = graph.outputs[0].name;
    expect(thrown(() => buildBackward(graph, { loss, params: ['w'], opset: 17 })).message).toMatch(/has shape \[3\]; a loss must be a scalar/);
    expect(thrown(() => buildBackward(graph, { loss: 'nope', params: ['w'], opset: 17 })).message).toMatch(/'nope' is not a value/);
  });

  it('a parameter that is neither an input nor an initializer, or is not float', () => {
    const { graph, loss } = graphOf({ w: [3] }, (b) => b.op('ReduceSum', [b.op('Tanh', ['w'], {}, 'h')], { keepdims: 0 }));
    expect(thrown(() => buildBackward(graph, { loss, params: ['h'], opset: 17 })).message).toMatch(/'h' is neither a graph input nor an initializer/);
    graph.initializers.push(makeTensor('steps', DataType.INT64, [1], [3]));
    expect(thrown(() => buildBackward(graph, { loss, params: ['steps'], opset: 17 })).message).toMatch(/'steps' is int64/);
  });

  it('Gather below opset 16 (scatter-add needs it)', () => {
    const { graph, loss } = graphOf({ w: [4, 2] }, (b) => {
      const rows = b.op('Gather', ['w', b.int64s('idx', [1, 1])]);
      return b.op('ReduceSum', [rows], { keepdims: 0 });
    });
    expect(thrown(() => buildBackward(graph, { loss, params: ['w'], opset: 13 })).message).toMatch(/needs opset 16/);
  });

  it('Dropout in training mode', () => {
    const { graph, loss } = graphOf({ w: [4] }, (b) => {
      const ratio = b.scalar('ratio', 0.5);
      const train = b.constant('train', DataType.BOOL, [], [1]);
      return b.op('ReduceSum', [b.op('Dropout', ['w', ratio, train])], { keepdims: 0 });
    });
    expect(thrown(() => buildBackward(graph, { loss, params: ['w'], opset: 13 })).message).toMatch(/training mode/);
  });
});

describe('buildBackward lets through', () => {
  it('shape plumbing from the parameter itself (Shape -> Gather -> Unsqueeze -> Concat -> Reshape)', async () => {
    for (const dynamic of [false, true])
      await checkVjp({
        inputs: [{ shape: [2, 3, 4] }],
        dynamic,
        build: (b, [x]) => {
          const batch = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [x]), b.constant('i0', DataType.INT64, [], [0])]), b.int64s('ax', [0])]);
          const shape = b.op('Concat', [batch, b.int64s('m1', [-1])], { axis: 0 });
          return [b.op('Reshape', [b.op('Tanh', [x]), shape])];
        },
      });
  });

  it('an index path computed from the parameter (ArgMax -> Gather) and an integer Cast round trip', async () => {
    const r = await checkVjp({
      inputs: [{ shape: [5] }],
      opset: 17,
      build: (b, [x], floatType) => {
        const picked = b.op('Gather', [x, b.op('ArgMax', [x], { keepdims: 0 })]);
        const truncated = b.op('Cast', [b.op('Cast', [x], { to: DataType.INT64 })], { to: floatType });
        return [b.op('Add', [b.op('Mul', [picked, x]), truncated])];
      },
    });
    expect(r.dtype).toBe('float64');
  });

  it('ops without rules that no parameter reaches', async () => {
    await checkVjp({
      inputs: [{ shape: [2, 3] }, { shape: [3], grad: false }],
      build: (b, [x, c]) => [b.op('Mul', [x, b.op('Sin', [c])])],
    });
  });
});

describe('buildBackward results', () => {
  it('gives zeros to a parameter the loss does not depend on, and sums repeated uses', async () => {
    const { graph, loss } = graphOf({ x: [2, 3] }, (b) => b.op('ReduceSum', [b.op('Mul', [b.op('Add', ['x', 'w']), 'w'])], { keepdims: 0 }));
    graph.initializers.push(makeTensor('w', F, [3], [1, 2, 3]), makeTensor('unused', F, [2, 2], [1, 1, 1, 1]));
    const grads = buildBackward(graph, { loss, params: ['w', 'unused'], opset: 17 });
    expect([...grads]).toEqual([
      ['w', 'w_grad'],
      ['unused', 'unused_grad'],
    ]);
    graph.outputs.push({ name: 'w_grad' }, { name: 'unused_grad' });
    const s = await session(model(graph));
    const xs = [0.5, -1, 2, 1.5, 0, -0.5];
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from(xs), [2, 3]) });
    // L = Σ (x + w)·w  =>  dL/dw_j = Σ_i x_ij + 2·2·w_j (two rows)
    const expected = [0, 1, 2].map((j) => xs[j] + xs[3 + j] + 4 * [1, 2, 3][j]);
    expect(Array.from(out.w_grad.data as Float32Array)).toEqual(expected);
    expect(out.unused_grad.dims).toEqual([2, 2]);
    expect(Array.from(out.unused_grad.data as Float32Array)).toEqual([0, 0, 0, 0]);
    await s.release();
  });

  it('leaves the forward graph as it was and names backward nodes under grad/', () => {
    const { graph, loss } = graphOf({ w: [3] }, (b) => b.op('ReduceSum', [b.op('Tanh', ['w'])], { keepdims: 0 }));
    const before = JSON.stringify(graph.nodes);
    const n = graph.nodes.length;
    buildBackward(graph, { loss, params: ['w'], opset: 17 });
    expect(JSON.stringify(graph.nodes.slice(0, n))).toBe(before);
    expect(graph.nodes.slice(n).every((node) => node.name!.startsWith('grad/'))).toBe(true);
  });
});
