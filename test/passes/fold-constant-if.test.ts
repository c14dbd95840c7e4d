/**
 * fold-constant-if (issue 13): an If whose condition is known at build time becomes the branch
 * it takes. Conditions from a Constant, an initializer, a static dim (`Shape(x)[1] == 1`) and a
 * static dim of a partly symbolic shape (`Cast<bool>(Shape(h)[0])`, h [2, batch, 3], silero
 * VAD's), at any depth; a branch initializer whose name the main graph already uses moves under
 * a fresh name; a branch output that is the branch's initializer; an If on a run-time condition stays
 * (with the known Ifs inside its branches folded); the weight that lived in a folded branch is
 * trained and written back by export. Every folded model computes what the original
 * does in onnxruntime, for both outcomes of the run-time condition and several batch sizes; the
 * torch.jit.script export keeps exactly its one run-time If and still matches torch's outputs.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor, tensorToNumbers } from '../../src/onnx/tensor.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { allGraphs, Graph, type Model } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { loadModel, modelToBytes, saveModel } from '../../src/ir/model-io.js';
import { runPass } from '../../src/passes/pass.js';
import { foldConstantIfPass } from '../../src/passes/import/fold-constant-if.js';
import { model, normals, rng } from '../helpers/graphs.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { buildFromFile } from '../../src/api/build.js';

const F = DataType.FLOAT;
const dir = tempDir('lion-onnx-fold-');

function branch(b: GraphBuilder, name: string, emit: (bb: GraphBuilder, g: Graph) => string[]): Graph {
  const g = new Graph();
  g.name = b.fresh(name);
  const bb = b.onGraph(g, `${name}/`);
  g.outputs = emit(bb, g).map((o) => ({ name: o, type: tensorType(F) }));
  return g;
}

/** x [2, 1, 3], h [2, batch, 3] -> five Ifs, one of them on the sign of sum(x). */
function withIfs(): Model {
  const g = new Graph();
  g.name = 'ifs';
  g.inputs.push({ name: 'x', type: tensorType(F, [2, 1, 3]) }, { name: 'h', type: tensorType(F, [2, 'batch', 3]) });
  g.initializers.push(makeTensor('w', F, [3], [1, 2, 3]));
  const b = new GraphBuilder(g);
  const i64 = (v: number[]) => b.constant('k', DataType.INT64, [v.length], v);
  // A: Shape(x)[1] == 1 -> then: Squeeze(x, 1) * w, with the branch's own (colliding) 'w'.
  const dim1 = b.op('Gather', [b.op('Shape', ['x']), b.constant('one', DataType.INT64, [], [1])], { axis: 0 });
  const condA = b.op('Equal', [dim1, b.constant('one', DataType.INT64, [], [1])]);
  const [a] = b.add('If', [condA], {
    then_branch: branch(b, 'a_then', (bb, sg) => {
      sg.initializers.push(makeTensor('w', F, [3], [-0.5, 0.25, 4]));
      return [bb.op('Mul', [bb.op('Squeeze', ['x', i64([1])]), 'w'])];
    }),
    else_branch: branch(b, 'a_else', (bb) => [bb.op('ReduceSum', ['x', i64([1])], { keepdims: 0 })]),
  });
  // B: Cast<bool>(Shape(h)[0]) (h's dim 0 is 2, its batch symbolic) -> then: an If on a Constant false.
  const condB = b.op('Cast', [b.op('Gather', [b.op('Shape', ['h']), b.constant('zero', DataType.INT64, [], [0])], { axis: 0 })], { to: DataType.BOOL });
  const [hb] = b.add('If', [condB], {
    then_branch: branch(b, 'b_then', (bb) => {
      const no = bb.op('Constant', [], { value: makeTensor('', DataType.BOOL, [], [0]) });
      const [inner] = bb.add('If', [no], {
        then_branch: branch(bb, 'c_then', (cb) => [cb.op('Neg', ['h'])]),
        else_branch: branch(bb, 'c_else', (cb) => [cb.op('Exp', [cb.op('Mul', ['h', 'w'])])]),
      });
      return [bb.op('Add', [inner, 'h'])];
    }),
    else_branch: branch(b, 'b_else', (bb) => [bb.op('Identity', ['h'])]),
  });
  // D: sum(x) > 0, known only at run time; inside it, E on an initializer (true).
  const condD = b.op('Greater', [b.op('ReduceSum', ['x'], { keepdims: 0 }), b.constant('zf', F, [], [0])]);
  const [d] = b.add('If', [condD], {
    then_branch: branch(b, 'd_then', (bb) => [
      bb.add('If', [bb.constant('yes', DataType.BOOL, [], [1])], {
        then_branch: branch(bb, 'e_then', (eb) => [eb.op('Mul', [a, a])]),
        else_branch: branch(bb, 'e_else', (eb) => [eb.op('Sigmoid', [a])]),
      })[0],
    ]),
    else_branch: branch(b, 'd_else', (bb) => [bb.op('Tanh', [a])]),
  });
  // F: an initializer condition; the branch's output is its own initializer, listed as it is.
  const [f] = b.add('If', [b.constant('yes', DataType.BOOL, [1], [1])], {
    then_branch: branch(b, 'f_then', (bb) => [bb.constant('k', F, [2, 1, 3], [1, 2, 3, 4, 5, 6])]),
    else_branch: branch(b, 'f_else', (bb) => [bb.op('Neg', ['x'])]),
  });
  g.outputs = [a, hb, d, f].map((name) => ({ name, type: tensorType(F) }));
  return model(g, 17);
}

const session = (m: Model) => ort.InferenceSession.create(modelToBytes(m), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });

async function outputs(m: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
  const s = await session(m);
  const r = await s.run(feeds);
  await s.release();
  return Object.fromEntries(Object.entries(r).map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
}

const ifs = (m: Model) => [...allGraphs(m.graph)].flatMap((g) => g.nodes.filter((n) => n.opType === 'If'));

describe('fold-constant-if', () => {
  it('folds the Ifs whose condition is known, at any depth, and keeps the run-time one', async () => {
    const source = withIfs();
    const { model: folded, modified } = runPass(foldConstantIfPass, source, undefined, { check: true });
    expect(modified).toBe(true);
    // One If is left, D, and no If inside its branches.
    expect(ifs(folded).map((n) => n.inputs[0])).toEqual([ifs(source)[2].inputs[0]]);
    expect(ifs(source)).toHaveLength(6);
    // A's branch initializer moved to the main graph under a fresh name; the main 'w' is untouched.
    const w = folded.graph.initializers.filter((t) => t.dims.join() === '3');
    expect(tensorToNumbers(folded.graph.initializer('w')!)).toEqual([1, 2, 3]);
    expect(w.map((t) => t.name).sort()).toEqual(['w', 'w_1']);
    expect(folded.graph.initializers.some((t) => t.dims.join() === '2,1,3')).toBe(true);
    expect(tensorToNumbers(folded.graph.initializer('w_1')!)).toEqual([-0.5, 0.25, 4]);
    // Every value still has one name and one writer.
    const written = folded.graph.nodes.flatMap((n) => n.outputs);
    expect(new Set(written).size).toBe(written.length);
    // The source is not changed.
    expect(ifs(source)).toHaveLength(6);

    const r = rng(5);
    for (const [sign, batch] of [[1, 1], [-1, 3], [1, 4]]) {
      const x = normals(r, 6).map((v) => Math.abs(v) * sign);
      const feeds = { x: new ort.Tensor('float32', Float32Array.from(x), [2, 1, 3]), h: new ort.Tensor('float32', Float32Array.from(normals(r, 6 * batch)), [2, batch, 3]) };
      expect(await outputs(folded, feeds)).toEqual(await outputs(source, feeds));
    }
  });

  it('a weight that lived in a folded branch is trained and exported from the main graph', () => {
    const source = withIfs();
    const file = join(dir, 'ifs.onnx');
    saveModel(source, file);
    const out = join(dir, 'artifacts');
    buildFromFile(file, out, { loss: 'mse', output: source.graph.outputs[0].name });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { parameters: { name: string; group: string }[] };
    expect(manifest.parameters.find((p) => p.name === 'w_1')?.group).toBe('decay');
    const inference = loadModel(join(out, 'inference.onnx'));
    expect(tensorToNumbers(inference.graph.initializer('w_1')!)).toEqual([-0.5, 0.25, 4]);
    expect(ifs(inference)).toHaveLength(1);
  });

  it('changes nothing when no condition is known', () => {
    const m = withIfs();
    const once = runPass(foldConstantIfPass, m, undefined, { check: true }).model;
    const again = runPass(foldConstantIfPass, once, undefined, { check: true });
    expect(again.modified).toBe(false);
    expect(again.model).toBe(once);
  });

  it('a torch.jit.script export keeps only its run-time If and computes what torch did', async () => {
    const dir = join(REPO, 'test/fixtures/torch-script/vad-like');
    const source = loadModel(join(dir, 'model.onnx'));
    const folded = runPass(foldConstantIfPass, source, undefined, { check: true }).model;
    expect(ifs(source)).toHaveLength(3);
    const left = ifs(folded);
    expect(left).toHaveLength(1);
    // The one that stays decides on the input's magnitude (ReduceMax -> Greater -> Cast).
    const producer = folded.graph.producers();
    expect(producer.get(producer.get(left[0].inputs[0])!.inputs[0])!.opType).toBe('Greater');
    expect(folded.graph.nodes.some((n) => n.opType === 'LSTM')).toBe(true);

    const io = JSON.parse(readFileSync(join(dir, 'io.json'), 'utf8')) as { inputs: Record<string, { shape: number[]; values: number[] }>; outputs: Record<string, { values: number[] }> };
    const feeds = Object.fromEntries(Object.entries(io.inputs).map(([k, v]) => [k, new ort.Tensor('float32', Float32Array.from(v.values), v.shape)]));
    const [a, b] = [await outputs(source, feeds), await outputs(folded, feeds)];
    expect(b).toEqual(a);
    for (const [k, v] of Object.entries(io.outputs)) for (let i = 0; i < v.values.length; i++) expect(Math.abs(b[k][i] - v.values[i])).toBeLessThan(1e-5);
  });
});
