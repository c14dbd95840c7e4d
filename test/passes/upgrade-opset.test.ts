/**
 * upgrade-opset, one case per adapter: a small model at an old opset, run in onnxruntime-node as
 * it is and after the upgrade on the same random inputs; the outputs must agree (floats within
 * 1e-5 relative, the rest exactly) and the upgraded graph must be in the opset-16 form. Where only
 * bumping the import would change the outputs, the test shows that it does (so it can fail).
 * Changes the upgrade does not convert are refused in one line.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { makeAttribute, type AttrInput } from '../../src/ir/attributes.js';
import { allGraphs, defaultOpset, Graph, type Model, type Node } from '../../src/ir/graph.js';
import { cloneModel } from '../../src/ir/clone.js';
import { tensorType, type Dim } from '../../src/ir/value-type.js';
import { upgradeOpset, upgradeOpsetPass, WORKING_OPSET } from '../../src/passes/import/upgrade-opset.js';
import { GraphError } from '../../src/errors.js';
import { compareRuns, session } from '../helpers/same-outputs.js';
import { model, normals, rng } from '../helpers/graphs.js';

type Input = { name: string; dims: number[]; type?: number; declared?: Dim[] | null; values?: number[] };

function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrInput> = {}, name = outputs[0]): Node {
  return { opType, inputs, outputs, name, attributes: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)) };
}

/** A graph with typed inputs (declared shape: the dims unless `declared` says otherwise; null = rank unknown), the nodes, and the outputs. */
function build(opset: number, inputs: Input[], nodes: Node[], outputs: string[], inits: ReturnType<typeof makeTensor>[] = []): Model {
  const g = new Graph();
  for (const i of inputs) g.inputs.push({ name: i.name, type: tensorType(i.type ?? DataType.FLOAT, i.declared === null ? undefined : (i.declared ?? i.dims)) });
  g.nodes = nodes;
  g.initializers = inits;
  g.outputs = outputs.map((name) => ({ name }));
  return model(g, opset);
}

function feeds(inputs: Input[], seed = 1): Record<string, ort.Tensor> {
  const r = rng(seed);
  const out: Record<string, ort.Tensor> = {};
  for (const i of inputs) {
    const n = i.dims.reduce((a, b) => a * b, 1);
    const v = i.values ?? normals(r, n);
    out[i.name] = i.type === DataType.INT64 ? new ort.Tensor('int64', BigInt64Array.from(v.map((x) => BigInt(Math.round(x)))), i.dims) : new ort.Tensor('float32', Float32Array.from(v), i.dims);
  }
  return out;
}

const ops = (m: Model) => [...allGraphs(m.graph)].flatMap((g) => g.nodes.map((n) => n.opType));

/** Upgrades, checks the form, and requires the same outputs as the original. */
async function same(m: Model, inputs: Input[]): Promise<Model> {
  const up = upgradeOpset(m);
  expect(defaultOpset(up)).toBe(WORKING_OPSET);
  expect(defaultOpset(m)).toBeLessThan(WORKING_OPSET);
  const { difference } = await compareRuns(m, up, feeds(inputs));
  expect(difference).toBeNull();
  return up;
}

/** Only the import bumped: what the upgrade must not be. */
async function naiveDiffers(m: Model, inputs: Input[]): Promise<void> {
  const naive = cloneModel(m);
  naive.opsetImports = [{ domain: '', version: WORKING_OPSET }];
  let differs = true;
  try {
    differs = (await compareRuns(m, naive, feeds(inputs))).difference !== null;
  } catch {
    /* not even loadable: differs */
  }
  expect(differs).toBe(true);
}

const refusal = (m: Model) => {
  try {
    upgradeOpset(m);
  } catch (e) {
    expect(e).toBeInstanceOf(GraphError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('not refused');
};

describe('upgrade-opset: Softmax, LogSoftmax, Hardmax (2-D coercion before 13)', () => {
  for (const op of ['Softmax', 'LogSoftmax', 'Hardmax'])
    it(`${op} at axis 1 of a 3-D input: Flatten → ${op} → Reshape back`, async () => {
      const inputs = [{ name: 'x', dims: [2, 3, 4] }];
      const m = build(11, inputs, [node(op, ['x'], ['y'])], ['y']);
      const up = await same(m, inputs);
      expect(ops(up)).toEqual(['Shape', 'Flatten', op, 'Reshape']);
      await naiveDiffers(m, inputs);
    });
  it('axis = last axis of a known rank: only the attribute changes', async () => {
    const inputs = [{ name: 'x', dims: [2, 3, 4] }];
    const up = await same(build(12, inputs, [node('Softmax', ['x'], ['y'], { axis: -1 })], ['y']), inputs);
    expect(ops(up)).toEqual(['Softmax']);
    const up2 = await same(build(9, [{ name: 'x', dims: [5, 7] }], [node('LogSoftmax', ['x'], ['y'])], ['y']), [{ name: 'x', dims: [5, 7] }]);
    expect(ops(up2)).toEqual(['LogSoftmax']);
  });
  it('rank unknown: the 2-D form, whatever the rank turns out to be', async () => {
    const inputs = [{ name: 'x', dims: [2, 3, 2, 2], declared: null }];
    const up = await same(build(10, inputs, [node('Softmax', ['x'], ['y'], { axis: 2 })], ['y']), inputs);
    expect(ops(up)).toContain('Flatten');
  });
  it('a graph output keeps its name; a reader downstream sees the reshaped value', async () => {
    const inputs = [{ name: 'x', dims: [2, 3, 4] }];
    const m = build(11, inputs, [node('Softmax', ['x'], ['s'], { axis: 0 }), node('Relu', ['s'], ['y'])], ['y', 's']);
    await same(m, inputs);
  });
});

describe('upgrade-opset: attributes that became inputs', () => {
  it('ReduceSum axes (13); ReduceMean keeps its attribute', async () => {
    const inputs = [{ name: 'x', dims: [2, 3, 4] }];
    const m = build(12, inputs, [node('ReduceSum', ['x'], ['a'], { axes: [1, -1], keepdims: 0 }), node('ReduceMean', ['x'], ['b'], { axes: [0] }), node('ReduceSum', ['x'], ['c'])], ['a', 'b', 'c']);
    const up = await same(m, inputs);
    const [sum, mean] = up.graph.nodes.filter((n) => n.opType.startsWith('Reduce'));
    expect(sum.inputs).toHaveLength(2);
    expect(mean.attributes.map((a) => a.name)).toContain('axes');
    await naiveDiffers(m, inputs);
  });
  it('Squeeze and Unsqueeze axes (13)', async () => {
    const inputs = [{ name: 'x', dims: [2, 1, 3, 1] }];
    await same(build(11, inputs, [node('Squeeze', ['x'], ['s'], { axes: [1] }), node('Unsqueeze', ['s'], ['y'], { axes: [0, -1] }), node('Squeeze', ['x'], ['z'])], ['y', 'z']), inputs);
  });
  it('Split split (13)', async () => {
    const inputs = [{ name: 'x', dims: [2, 7] }];
    const up = await same(build(11, inputs, [node('Split', ['x'], ['a', 'b'], { axis: 1, split: [2, 5] }), node('Split', ['x'], ['c', 'd'], { axis: 0 })], ['a', 'b', 'c', 'd']), inputs);
    expect(up.graph.nodes.filter((n) => n.opType === 'Split')[0].inputs).toHaveLength(2);
  });
  it('Slice starts/ends/axes (10)', async () => {
    const inputs = [{ name: 'x', dims: [3, 5, 4] }];
    const m = build(9, inputs, [node('Slice', ['x'], ['y'], { starts: [1, -3], ends: [1000, -1], axes: [1, 2] }), node('Slice', ['x'], ['z'], { starts: [0, 1], ends: [2, 3] })], ['y', 'z']);
    const up = await same(m, inputs);
    expect(up.graph.nodes.find((n) => n.outputs[0] === 'y')!.inputs).toHaveLength(4);
    await naiveDiffers(m, inputs);
  });
  it('TopK k (10)', async () => {
    const inputs = [{ name: 'x', dims: [3, 6] }];
    await same(build(9, inputs, [node('TopK', ['x'], ['v', 'i'], { k: 2, axis: 1 })], ['v', 'i']), inputs);
  });
  it('Clip min/max (11), one bound or both', async () => {
    const inputs = [{ name: 'x', dims: [4, 5] }];
    const up = await same(build(10, inputs, [node('Clip', ['x'], ['a'], { min: { float: -0.5 }, max: { float: 0.25 } }), node('Clip', ['x'], ['b'], { max: { float: 0.1 } }), node('Clip', ['x'], ['c'], { min: { float: 0 } }), node('Clip', ['x'], ['d'])], ['a', 'b', 'c', 'd']), inputs);
    expect(up.graph.nodes.find((n) => n.outputs[0] === 'b')!.inputs[1]).toBe('');
    // onnxruntime runs Clip 6 on float only, so other types are left to CastLike (not run here).
  });
  it('Pad pads/value (11), constant and reflect', async () => {
    const inputs = [{ name: 'x', dims: [1, 2, 3, 3] }];
    await same(build(10, inputs, [node('Pad', ['x'], ['a'], { pads: [0, 0, 1, 2, 0, 1, 0, 1], value: { float: 1.5 } }), node('Pad', ['x'], ['b'], { pads: [0, 0, 1, 1, 0, 0, 1, 1], mode: 'reflect' }), node('Pad', ['x'], ['c'], { pads: [0, 0, 1, 0, 0, 0, 0, -1] })], ['a', 'b', 'c']), inputs);
  });
  it('Dropout ratio (12) and is_test dropped; an unread mask is fine', async () => {
    const inputs = [{ name: 'x', dims: [3, 4] }];
    await same(build(11, inputs, [node('Dropout', ['x'], ['y', 'mask'], { ratio: { float: 0.3 } })], ['y']), inputs);
    await same(build(7, inputs, [node('Dropout', ['x'], ['y'])], ['y']), inputs);
  });
});

describe('upgrade-opset: ops replaced', () => {
  const x = [{ name: 'x', dims: [1, 2, 3, 4] }];
  for (const mode of ['nearest', 'linear'])
    it(`Upsample 7 (scales attribute), ${mode} → Resize`, async () => {
      const m = build(7, x, [node('Upsample', ['x'], ['y'], { mode, scales: { floats: [1, 1, 2, 3] } })], ['y']);
      const up = await same(m, x);
      expect(ops(up)).toEqual(['Constant', 'Resize']);
    });
  for (const mode of ['nearest', 'linear'])
    it(`Upsample 9 (scales input), ${mode} → Resize`, async () => {
      const s = makeTensor('s', DataType.FLOAT, [4], [1, 1, 2.5, 1.5]);
      await same(build(9, x, [node('Upsample', ['x', 's'], ['y'], { mode })], ['y'], [s]), x);
    });
  for (const [what, scales] of [['up', [1, 1, 2, 2]], ['down', [1, 1, 0.6, 0.6]]] as const)
    for (const mode of ['nearest', 'linear'])
      it(`Resize 10 (${what}sampling, ${mode}) → Resize 11+ form`, async () => {
        const big = [{ name: 'x', dims: [1, 2, 5, 7] }];
        const s = makeTensor('s', DataType.FLOAT, [4], [...scales]);
        const m = build(10, big, [node('Resize', ['x', 's'], ['y'], { mode })], ['y'], [s]);
        const up = await same(m, big);
        expect(up.graph.nodes.at(-1)!.inputs).toEqual(['x', '', 's']);
        await naiveDiffers(m, big);
      });
  it('Resize 10 nearest whose scales are computed, or grow and shrink: refused', () => {
    const s = makeTensor('s', DataType.FLOAT, [4], [1, 1, 2, 0.5]);
    expect(refusal(build(10, x, [node('Resize', ['x', 's'], ['y'])], ['y'], [s]))).toMatch(/node 'y' \(Resize\) at opset 10: its scales \[1, 1, 2, 0.5\] grow some axes and shrink others/);
    const m = build(10, [...x, { name: 's', dims: [4] }], [node('Resize', ['x', 's'], ['y'])], ['y']);
    expect(refusal(m)).toMatch(/its scales are computed/);
  });
  it('Scatter (deprecated at 11) → ScatterElements', async () => {
    const inputs = [{ name: 'x', dims: [3, 4] }, { name: 'i', dims: [2, 4], type: DataType.INT64, values: [0, 1, 2, 0, 2, 0, 1, 1] }, { name: 'u', dims: [2, 4] }];
    const up = await same(build(9, inputs, [node('Scatter', ['x', 'i', 'u'], ['y'], { axis: 0 })], ['y']), inputs);
    expect(ops(up)).toEqual(['ScatterElements']);
  });
});

describe('upgrade-opset: BatchNormalization', () => {
  const inputs = [{ name: 'x', dims: [2, 3, 4, 4] }];
  const stats = (shape: number[]) => {
    const r = rng(7);
    const n = shape.reduce((a, b) => a * b, 1);
    return [makeTensor('scale', DataType.FLOAT, shape, normals(r, n)), makeTensor('bias', DataType.FLOAT, shape, normals(r, n)), makeTensor('mean', DataType.FLOAT, shape, normals(r, n)), makeTensor('var', DataType.FLOAT, shape, normals(r, n).map((v) => Math.abs(v) + 0.1))];
  };
  it('opset 7 spatial = 1, inference: the same node', async () => {
    const up = await same(build(7, inputs, [node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['y'], { spatial: 1, epsilon: { float: 1e-3 } })], ['y'], stats([3])), inputs);
    expect(up.graph.nodes[0].attributes.map((a) => a.name)).toEqual(['epsilon']);
  });
  it('opset 8 spatial = 0: per-activation statistics written out', async () => {
    const m = build(8, inputs, [node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['y'], { spatial: 0 })], ['y'], stats([3, 4, 4]));
    const up = await same(m, inputs);
    expect(ops(up)).not.toContain('BatchNormalization');
  });
  it('training outputs nothing reads are dropped; read ones are refused', async () => {
    const bn = (outs: string[]) => node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], outs, {}, 'bn');
    const up = upgradeOpset(build(9, inputs, [bn(['y', 'rm', 'rv', 'sm', 'sv'])], ['y'], stats([3])));
    expect(up.graph.nodes[0].outputs).toEqual(['y']);
    expect((await compareRuns(up, up, feeds(inputs))).difference).toBeNull();
    expect(refusal(build(9, inputs, [bn(['y', 'rm', 'rv'])], ['y', 'rm'], stats([3])))).toMatch(/node 'bn' \(BatchNormalization\) at opset 9: its training-mode outputs .* are read/);
  });
});

describe('upgrade-opset: subgraphs, experimental ops, refusals, the pass', () => {
  it("an If's branches are upgraded too (Softmax and Unsqueeze inside)", async () => {
    const branch = (op: string) => {
      const b = new Graph();
      b.name = op;
      b.nodes = [node(op, ['x'], [`${op}_s`]), node('Unsqueeze', [`${op}_s`], [`${op}_out`], { axes: [0] })];
      b.outputs = [{ name: `${op}_out` }];
      return b;
    };
    const inputs = [{ name: 'x', dims: [2, 3, 4] }, { name: 'c', dims: [1] }];
    const m = build(11, inputs, [node('Greater', ['c', 'zero'], ['cond']), node('Squeeze', ['cond'], ['cond0'], { axes: [0] }), node('If', ['cond0'], ['y'], { then_branch: branch('Softmax'), else_branch: branch('LogSoftmax') })], ['y'], [makeTensor('zero', DataType.FLOAT, [1], [0])]);
    const up = upgradeOpset(m);
    expect(ops(up)).toEqual(expect.arrayContaining(['Flatten', 'Reshape']));
    for (const c of [1, -1]) {
      const f = feeds(inputs);
      f.c = new ort.Tensor('float32', Float32Array.from([c]), [1]);
      const a = await (await session(m)).run(f);
      const b = await (await session(up)).run(f);
      expect(Array.from(b.y.data as Float32Array)).toEqual(Array.from(a.y.data as Float32Array));
    }
  });
  it('ImageScaler (experimental, opset 7–9 models) → Mul + Add', async () => {
    const inputs = [{ name: 'x', dims: [1, 3, 2, 2] }];
    const m = build(8, inputs, [node('ImageScaler', ['x'], ['y'], { scale: { float: 0.5 }, bias: { floats: [1, -2, 0.25] } })], ['y']);
    const up = upgradeOpset(m);
    expect(ops(up)).not.toContain('ImageScaler');
    const f = feeds(inputs);
    const y = Array.from((await (await session(up)).run(f)).y.data as Float32Array);
    const xs = Array.from(f.x.data as Float32Array);
    expect(y).toEqual(xs.map((v, i) => Math.fround(Math.fround(v * 0.5) + [1, -2, 0.25][Math.floor(i / 4)])));
  });
  it('ThresholdedRelu and DynamicSlice (experimental before 10) → their standard forms', async () => {
    const inputs = [{ name: 'x', dims: [3, 5] }];
    const ints = (name: string, v: number[]) => makeTensor(name, DataType.INT64, [v.length], v);
    const m = build(9, inputs, [node('ThresholdedRelu', ['x'], ['t'], { alpha: { float: 0.3 } }), node('DynamicSlice', ['t', 'st', 'en', 'ax'], ['y'])], ['y'], [ints('st', [1]), ints('en', [4]), ints('ax', [1])]);
    const up = upgradeOpset(m);
    expect(ops(up)).toEqual(['ThresholdedRelu', 'Slice']);
    const f = feeds(inputs);
    const y = Array.from((await (await session(up)).run(f)).y.data as Float32Array);
    const xs = Array.from(f.x.data as Float32Array);
    expect(y).toEqual([0, 1, 2].flatMap((r) => [1, 2, 3].map((c) => (xs[r * 5 + c] > Math.fround(0.3) ? xs[r * 5 + c] : 0))));
  });
  it('Scan 8 with a batch of 1 → Scan 9+ between Squeeze and Unsqueeze; another batch is refused', async () => {
    const body = new Graph();
    body.name = 'body';
    body.inputs = [{ name: 'acc', type: tensorType(DataType.FLOAT, [2]) }, { name: 'row', type: tensorType(DataType.FLOAT, [2]) }];
    body.nodes = [node('Add', ['acc', 'row'], ['acc_out']), node('Softmax', ['acc_out'], ['sm'], { axis: 0 }), node('Identity', ['sm'], ['scan_out'])];
    body.outputs = [{ name: 'acc_out', type: tensorType(DataType.FLOAT, [2]) }, { name: 'scan_out', type: tensorType(DataType.FLOAT, [2]) }];
    const scan = (b: number) => build(8, [{ name: 'init', dims: [b, 2] }, { name: 'xs', dims: [b, 3, 2] }], [node('Scan', ['', 'init', 'xs'], ['final', 'ys'], { body, num_scan_inputs: 1, directions: [1] }, 'scan')], ['final', 'ys']);
    const up = await same(scan(1), [{ name: 'init', dims: [1, 2] }, { name: 'xs', dims: [1, 3, 2] }]);
    expect(ops(up)).toEqual(['Constant', 'Squeeze', 'Squeeze', 'Scan', 'Unsqueeze', 'Unsqueeze', 'Add', 'Softmax', 'Identity']);
    expect(refusal(scan(2))).toMatch(/node 'scan' \(Scan\) at opset 8: Scan 8 carries a batch axis, and only a batch known to be 1/);
  });
  it('RoiAlign below 16 keeps its coordinate mode (16 changed the default)', () => {
    const up = upgradeOpset(build(13, [{ name: 'x', dims: [1, 1, 4, 4] }, { name: 'r', dims: [1, 4] }, { name: 'b', dims: [1], type: DataType.INT64 }], [node('RoiAlign', ['x', 'r', 'b'], ['y'])], ['y']));
    expect(up.graph.nodes[0].attributes.map((a) => a.name)).toEqual(['coordinate_transformation_mode']);
  });
  it('refusals name the node, the op and the opset, in one line', () => {
    const x = [{ name: 'x', dims: [2, 3] }];
    expect(refusal(build(11, x, [node('Dropout', ['x'], ['y', 'mask'], {}, 'drop'), node('Cast', ['mask'], ['m'], { to: DataType.FLOAT })], ['y', 'm']))).toMatch(/^node 'drop' \(Dropout\) at opset 11: its mask output is read/);
    expect(refusal(build(9, x, [node('Crop', ['x'], ['y'])], ['y']))).toMatch(/node 'y' \(Crop\) at opset 9: Crop was one of ONNX's experimental ops, which opset 10 dropped/);
    expect(refusal(build(9, x, [node('Resize', ['x', 'x'], ['y'])], ['y']))).toMatch(/ONNX has no Resize at opset 9/);
    expect(refusal(build(6, x, [node('Relu', ['x'], ['y'])], ['y']))).toMatch(/imports ONNX opset 6; lion-onnx upgrades opset 7 and later/);
  });
  it("ops ONNX does not have at 16 either (onnxruntime's own in the default domain) keep their form", () => {
    const x = [{ name: 'x', dims: [2, 3] }, { name: 's', dims: [3] }];
    const up = upgradeOpset(build(14, x, [node('LayerNormalization', ['x', 's'], ['y'], { axis: -1 }), node('SimplifiedLayerNormalization', ['x', 's'], ['z'])], ['y', 'z']));
    expect(up.graph.nodes.map((n) => `${n.opType} ${n.attributes.map((a) => a.name)}`)).toEqual(['LayerNormalization axis', 'SimplifiedLayerNormalization ']);
  });
  it('the pass: a model at 16 or later is unchanged; the input model is never changed', () => {
    const x = [{ name: 'x', dims: [2, 3] }];
    const m17 = build(17, x, [node('Softmax', ['x'], ['y'])], ['y']);
    expect(upgradeOpsetPass.run(m17, undefined)).toEqual({ model: m17, modified: false });
    const m11 = build(11, x, [node('Squeeze', ['x'], ['y'], { axes: [0] })], ['y']);
    const before = JSON.stringify(m11.graph.nodes);
    const r = upgradeOpsetPass.run(m11, undefined);
    expect(r.modified).toBe(true);
    expect(JSON.stringify(m11.graph.nodes)).toBe(before);
    expect(defaultOpset(m11)).toBe(11);
    expect(Number(r.model.irVersion)).toBeGreaterThanOrEqual(8);
  });
});
