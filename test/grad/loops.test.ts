/**
 * Gradients through Scan and Loop (grad/rules/scan.ts, loop.ts) against finite differences, in
 * float64: a recurrence h' = tanh(x_t + h·W) with W captured from the outer graph, the final
 * state and the per-step outputs in the loss (both, or one of them), scan inputs and outputs on
 * another axis and in reverse, a Scan without states, an integer state beside a float one, inputs
 * with symbolic dims; a Loop over a trip count known at build time whose body reads the
 * iteration number, with a constant or a passed-on condition. Loops decided at run time are
 * refused in one line naming the node.
 */
import { describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../../src/ir/builder.js';
import { Graph } from '../../src/ir/graph.js';
import { tensorType, type Dim } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { checkVjp } from './check-vjp.js';

/** A body with typed inputs; `emit` gets the builder and the input names and returns the outputs. */
function body(b: GraphBuilder, inputs: [string, number, Dim[] | undefined][], emit: (bb: GraphBuilder, ins: string[]) => string[], outTypes?: number[]): Graph {
  const g = new Graph();
  g.name = b.fresh('body');
  const bb = b.onGraph(g, 'body/');
  g.inputs = inputs.map(([n, t, s]) => ({ name: bb.fresh(n), type: tensorType(t, s) }));
  g.outputs = emit(bb, g.inputs.map((v) => v.name)).map((o, i) => ({ name: o, type: tensorType(outTypes?.[i] ?? inputs[0][1]) }));
  return g;
}

/** h' = tanh(x_t + h·W); y_t = sigmoid(h') · x_t. */
function cell(bb: GraphBuilder, h: string, x: string, w: string): [string, string] {
  const h2 = bb.op('Tanh', [bb.op('Add', [x, bb.op('MatMul', [h, w])])]);
  return [h2, bb.op('Mul', [bb.op('Sigmoid', [h2]), x])];
}

describe('Scan', () => {
  for (const lossOutputs of [[0, 1], [0], [1]])
    it(`a recurrence with a captured weight, loss on outputs ${lossOutputs}`, async () => {
      const r = await checkVjp({
        inputs: [{ shape: [2, 3] }, { shape: [4, 2, 3] }, { shape: [3, 3] }],
        outputs: 2,
        lossOutputs,
        build: (b, [h0, xs, w], ft) =>
          b.add('Scan', [h0, xs], { body: body(b, [['h', ft, [2, 3]], ['x', ft, [2, 3]]], (bb, [h, x]) => cell(bb, h, x, w)), num_scan_inputs: 1 }, { outputs: 2 }),
      });
      expect(r.dtype).toBe('float64');
      expect(r.maxGrad).toBeGreaterThan(0.1);
    });

  it('scan inputs along axis 1, one reversed; a reversed scan output along axis 1', async () => {
    await checkVjp({
      inputs: [{ shape: [2, 3] }, { shape: [2, 5, 3] }, { shape: [5, 2, 3] }, { shape: [3, 3] }],
      outputs: 3,
      build: (b, [h0, xa, xb, w], ft) =>
        b.add(
          'Scan',
          [h0, xa, xb],
          {
            body: body(b, [['h', ft, [2, 3]], ['xa', ft, [2, 3]], ['xb', ft, [2, 3]]], (bb, [h, a, c]) => {
              const [h2, y] = cell(bb, h, bb.op('Mul', [a, c]), w);
              return [h2, y, bb.op('Exp', [bb.op('Mul', [h2, c])])];
            }),
            num_scan_inputs: 2,
            scan_input_axes: [1, 0],
            scan_input_directions: [1, 0],
            scan_output_axes: [1, 0],
            scan_output_directions: [1, 1],
          },
          { outputs: 3 },
        ),
    });
  });

  it('no states: a map over the first axis', async () => {
    await checkVjp({
      inputs: [{ shape: [3, 2, 4] }, { shape: [4] }],
      build: (b, [xs, w], ft) => b.add('Scan', [xs], { body: body(b, [['x', ft, [2, 4]]], (bb, [x]) => [bb.op('Tanh', [bb.op('Mul', [x, w])])]), num_scan_inputs: 1 }),
    });
  });

  it('an integer state beside a float one; symbolic dims', async () => {
    await checkVjp({
      dynamic: true,
      inputs: [{ shape: [2, 3] }, { shape: [], type: 'int64', values: [1] }, { shape: [3, 2, 3] }, { shape: [3, 3], dynamic: false }],
      outputs: 3,
      build: (b, [h0, k0, xs, w], ft) =>
        b.add(
          'Scan',
          [h0, k0, xs],
          {
            body: body(
              b,
              [['h', ft, ['b', 3]], ['k', DataType.INT64, []], ['x', ft, ['b', 3]]],
              (bb, [h, k, x]) => {
                const k2 = bb.op('Add', [k, bb.constant('one', DataType.INT64, [], [1])]);
                const scale = bb.op('Cast', [k2], { to: ft });
                const [h2, y] = cell(bb, h, bb.op('Mul', [x, scale]), w);
                return [h2, k2, y];
              },
              [ft, DataType.INT64, ft],
            ),
            num_scan_inputs: 1,
          },
          { outputs: 3 },
        ),
      lossOutputs: [0, 2],
    });
  });
});

describe('Loop', () => {
  const bool = (v: number) => ({ shape: [], type: 'bool' as const, values: [v] });
  const trips = (v: number) => ({ shape: [], type: 'int64' as const, values: [v] });
  /** Loop(M, cond) over h with the iteration number in the body: h' = tanh(x·(i+1) + h·W), scan output h'·i. */
  const loop = (condOut: 'constant' | 'passed') => (b: GraphBuilder, [m, c, h0, x, w]: string[], ft: number) =>
    b.add(
      'Loop',
      [m, c, h0],
      {
        body: body(
          b,
          [['i', DataType.INT64, []], ['cond', DataType.BOOL, []], ['h', ft, [2, 3]]],
          (bb, [i, cond, h]) => {
            const fi = bb.op('Cast', [i], { to: ft });
            const [h2] = cell(bb, h, bb.op('Mul', [x, bb.op('Add', [fi, bb.constant('one', ft, [], [1])])]), w);
            const keep = condOut === 'constant' ? bb.op('Constant', [], { value: makeTensor('', DataType.BOOL, [], [1]) }) : bb.op('Identity', [cond]);
            return [keep, h2, bb.op('Mul', [h2, fi])];
          },
          [DataType.BOOL, ft, ft],
        ),
      },
      { outputs: 2 },
    );

  for (const condOut of ['constant', 'passed'] as const)
    it(`M = 4 known at build time, body condition ${condOut}`, async () => {
      const r = await checkVjp({ inputs: [trips(4), bool(1), { shape: [2, 3] }, { shape: [2, 3] }, { shape: [3, 3] }], outputs: 2, build: loop(condOut) });
      expect(r.dtype).toBe('float64');
      expect(r.maxGrad).toBeGreaterThan(0.1);
    });

  it('refuses a trip count fed at run time, naming the node', async () => {
    await expect(checkVjp({ inputs: [{ ...trips(3), constant: false }, bool(1), { shape: [2, 3] }, { shape: [2, 3] }, { shape: [3, 3] }], outputs: 2, build: loop('constant') })).rejects.toThrow(
      /^Loop node '.*' \(Loop\): its trip count 'x0' is computed at run time; lion-onnx differentiates loops whose trip count is known/,
    );
  });

  it('refuses a condition computed in the body', async () => {
    await expect(
      checkVjp({
        inputs: [trips(3), bool(1), { shape: [2] }],
        build: (b, [m, c, h0], ft) =>
          b.add('Loop', [m, c, h0], {
            body: body(b, [['i', DataType.INT64, []], ['cond', DataType.BOOL, []], ['h', ft, [2]]], (bb, [, , h]) => {
              const h2 = bb.op('Tanh', [h]);
              return [bb.op('Greater', [bb.op('ReduceSum', [h2], { keepdims: 0 }), bb.constant('z', ft, [], [0])]), h2];
            }, [DataType.BOOL, ft]),
          }),
      }),
    ).rejects.toThrow(/its body's condition '.*' is computed at run time/);
  });
});
