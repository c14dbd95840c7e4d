/**
 * GraphBuilder mints names that collide with nothing already in the graph (any kind of name, at
 * any subgraph depth, including names shaped like its own `base_N` pattern), and claim() refuses
 * a taken name with a GraphError.
 */
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { GraphBuilder, namesIn } from '../../src/ir/builder.js';
import { AttrType, Graph, allGraphs } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';

/** Every name in the graph, listed by hand from how the graph below is built. */
const ALL_NAMES = [
  'x', 'y', 'hint', 'w', 'sparse_w', 'a', 'relu', 'cond', 'if', 'then_out', 'then_relu', 'inner', 'else_out', 'x_1', 'Relu_0', 'tmp', 'tmp_1', 'tmp_3',
];

/**
 * Names of every kind: graph input/output/value_info, initializer, sparse initializer, node
 * inputs/outputs/names, and the same inside If branches (one nested a level deeper).
 */
function sampleGraph(): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'x', type: tensorType(DataType.FLOAT, [2]) }, { name: 'cond' }];
  g.outputs = [{ name: 'y' }];
  g.valueInfo = [{ name: 'hint' }];
  g.initializers = [makeTensor('w', DataType.FLOAT, [2], [1, 2])];
  g.extra = { sparse_initializer: [{ values: { name: 'sparse_w' }, indices: { name: '' }, dims: [4] }] };
  const inner = new Graph();
  inner.outputs = [{ name: 'inner' }];
  inner.nodes = [{ opType: 'Identity', inputs: ['x_1'], outputs: ['inner'], attributes: [], name: 'Relu_0' }];
  const thenBranch = new Graph();
  thenBranch.outputs = [{ name: 'then_out' }];
  thenBranch.nodes = [
    { opType: 'Relu', inputs: ['a'], outputs: ['then_out'], attributes: [], name: 'then_relu' },
    { opType: 'Loop', inputs: [], outputs: ['tmp'], attributes: [{ name: 'body', type: AttrType.GRAPH, value: inner }] },
  ];
  const elseBranch = new Graph();
  elseBranch.outputs = [{ name: 'else_out' }];
  elseBranch.nodes = [{ opType: 'Identity', inputs: ['tmp_1'], outputs: ['else_out'], attributes: [], name: 'tmp_3' }];
  g.nodes = [
    { opType: 'Add', inputs: ['x', 'w'], outputs: ['a'], attributes: [], name: 'relu' },
    {
      opType: 'If',
      inputs: ['cond'],
      outputs: ['y'],
      attributes: [
        { name: 'then_branch', type: AttrType.GRAPH, value: thenBranch },
        { name: 'else_branch', type: AttrType.GRAPH, value: elseBranch },
      ],
      name: 'if',
    },
  ];
  return g;
}

describe('namesIn', () => {
  it('lists every name of every kind at every depth, and nothing else', () => {
    expect([...namesIn(sampleGraph())].sort()).toEqual([...ALL_NAMES].sort());
  });
});

describe('GraphBuilder.fresh', () => {
  it('returns the base when free, else base_N skipping every N already taken', () => {
    const b = new GraphBuilder(sampleGraph());
    expect(b.fresh('z')).toBe('z');
    expect(b.fresh('z')).toBe('z_1');
    expect(b.fresh('x')).toBe('x_2'); // x and x_1 (inside a nested Loop body) exist
    expect(b.fresh('tmp')).toBe('tmp_2'); // tmp, tmp_1 exist; tmp_3 too, but 2 is free
    expect(b.fresh('tmp')).toBe('tmp_4');
    expect(b.fresh('x_1')).toBe('x_1_1');
  });

  it('never returns a name in the graph or one it returned before, whatever the base', () => {
    const g = sampleGraph();
    const b = new GraphBuilder(g);
    const taken = new Set(ALL_NAMES);
    for (const base of [...ALL_NAMES, 'Relu', 'Relu_0', 'new', 'x', 'x', 'x_2', 'tmp', 'tmp_2']) {
      for (let i = 0; i < 5; i++) {
        const name = b.fresh(base);
        expect(taken.has(name), `${base} -> ${name}`).toBe(false);
        expect(name === base || name.startsWith(`${base}_`)).toBe(true);
        taken.add(name);
      }
    }
    expect(taken.size).toBe(ALL_NAMES.length + 5 * 26);
  });

  it('add() names outputs and nodes apart from existing ones, even ones shaped like its own', () => {
    const g = sampleGraph();
    const b = new GraphBuilder(g);
    const before = new Set(namesIn(g));
    const outs = [b.op('Relu', ['x']), b.op('Relu', ['x']), ...b.add('Split', ['x'], {}, { outputs: 2 }), b.op('Neg', ['x'], {}, 'a')];
    const added = g.nodes.slice(2);
    const minted = [...outs, ...added.map((n) => n.name!)];
    expect(new Set(minted).size).toBe(minted.length);
    for (const name of minted) expect(before.has(name), name).toBe(false);
    expect(outs[4]).toBe('a_1'); // the hint 'a' is taken by the Add node's output
    expect(added.map((n) => n.opType)).toEqual(['Relu', 'Relu', 'Split', 'Neg']);
  });

  it('exact outputs are reserved: later fresh names do not repeat them', () => {
    const b = new GraphBuilder(new Graph());
    b.add('Identity', ['x'], {}, { exact: ['p.out'] });
    expect(b.fresh('p.out')).toBe('p.out_1');
    expect(() => b.claim('p.out', 'a test')).toThrow(GraphError);
  });

  it('constant(), scalar() and int64s() add initializers under fresh names with the given values', () => {
    const g = sampleGraph();
    const b = new GraphBuilder(g);
    const w = b.constant('w', DataType.FLOAT, [3], [0.5, -1, 2]);
    const s = b.scalar('w', 2.5, DataType.DOUBLE);
    const i = b.int64s('axes', [0, -1]);
    expect([w, s, i]).toEqual(['w_1', 'w_2', 'axes']);
    const byName = (n: string) => g.initializer(n)!;
    expect(Array.from(byName('w_1').data as Float32Array)).toEqual([0.5, -1, 2]);
    expect(byName('w_2')).toMatchObject({ dataType: DataType.DOUBLE, dims: [] });
    expect(Array.from(byName('w_2').data as Float64Array)).toEqual([2.5]);
    expect(Array.from(byName('axes').data as BigInt64Array)).toEqual([0n, -1n]);
  });

  it('withScope shares the set of used names', () => {
    const b = new GraphBuilder(new Graph());
    const s = b.withScope('lion/');
    expect(b.fresh('m')).toBe('m');
    expect(s.fresh('m')).toBe('m_1');
    expect(b.isUsed('m_1')).toBe(true);
    s.op('Mul', ['m', 'm']);
    expect(b.graph.nodes[0].name!.startsWith('lion/Mul_')).toBe(true);
  });
});

describe('GraphBuilder.claim', () => {
  it('returns a free name and reserves it', () => {
    const b = new GraphBuilder(sampleGraph());
    expect(b.claim('w.lion_m', 'the momentum of w')).toBe('w.lion_m');
    expect(b.fresh('w.lion_m')).toBe('w.lion_m_1');
  });

  it('throws GraphError naming the collision, for names at any depth and names it minted', () => {
    for (const name of ALL_NAMES) {
      const b = new GraphBuilder(sampleGraph());
      expect(() => b.claim(name, 'a test'), name).toThrow(GraphError);
    }
    const b = new GraphBuilder(sampleGraph());
    const minted = b.fresh('q');
    let err: Error | undefined;
    try {
      b.claim(minted, 'the momentum of q');
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(GraphError);
    expect(err!.message).toBe("the graph already has a value or node named 'q', which the momentum of q needs; rename it in the source model");
  });

  it('addInitializer claims the tensor name', () => {
    const b = new GraphBuilder(sampleGraph());
    expect(() => b.addInitializer(makeTensor('inner', DataType.FLOAT, [1], [0]))).toThrow(GraphError);
    b.addInitializer(makeTensor('fresh_init', DataType.FLOAT, [1], [0]));
    expect([...allGraphs(b.graph)][0].initializer('fresh_init')).toBeDefined();
    expect(b.fresh('fresh_init')).toBe('fresh_init_1');
  });
});
