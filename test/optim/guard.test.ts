/**
 * emitGuarded (src/optim/guard.ts): the updates of a step inside one If on the non-finite flag.
 * With finite gradients the outputs are bit for bit those of the unguarded update; with a NaN or
 * Inf anywhere every parameter and momentum comes out unchanged, bit for bit (−0 included).
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { modelToBytes } from '../../src/ir/model-io.js';
import { lion } from '../../src/optim/lion.js';
import { emitGuarded } from '../../src/optim/guard.js';
import { emitNonFiniteFlag } from '../../src/optim/nonfinite.js';
import { model } from '../helpers/graphs.js';

const PARAMS = ['a', 'b'];
const HYPER_INPUTS = Object.fromEntries(lion.hyperparameters.map((h) => [h.key, h.input])) as Record<'lr' | 'beta1' | 'beta2' | 'weightDecay', string>;
const N = 6;

async function stepSession(guarded: boolean): Promise<ort.InferenceSession> {
  const g = new Graph();
  g.name = 'guarded_step';
  const t = tensorType(DataType.FLOAT, [N]);
  for (const p of PARAMS) g.inputs.push({ name: p, type: t }, { name: `${p}.m`, type: t }, { name: `${p}.g`, type: t });
  for (const h of Object.values(HYPER_INPUTS)) g.inputs.push({ name: h, type: tensorType(DataType.DOUBLE, []) });
  const b = new GraphBuilder(g);
  const flag = guarded ? emitNonFiniteFlag(b, PARAMS.map((p) => `${p}.g`), PARAMS.map(() => DataType.FLOAT)) : undefined;
  const emit = () => {
    const update = lion.prepare(b, DataType.FLOAT, {});
    return PARAMS.flatMap((p) => {
      const names = { param: p, grad: `${p}.g`, state: [`${p}.m`], paramOut: b.fresh(`${p}.new`), stateOut: [b.fresh(`${p}.m.new`)] };
      update(names, p === 'a');
      return [
        { old: p, updated: names.paramOut, out: `${p}.out`, type: t },
        { old: `${p}.m`, updated: names.stateOut[0], out: `${p}.m.out`, type: t },
      ];
    });
  };
  if (flag) emitGuarded(b, flag, emit);
  else for (const v of emit()) b.add('Identity', [v.updated], {}, { exact: [v.out] });
  for (const p of PARAMS) g.outputs.push({ name: `${p}.out`, type: t }, { name: `${p}.m.out`, type: t });
  // The update's nodes live in the If's else branch; the main graph keeps the flag and the If.
  if (flag) expect(g.nodes.filter((n) => n.opType === 'Where' || n.opType === 'Clip')).toEqual([]);
  return ort.InferenceSession.create(modelToBytes(model(g)));
}

function feeds(grad: (p: string, i: number) => number): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  const vec = (fn: (i: number) => number) => new ort.Tensor('float32', Float32Array.from({ length: N }, (_, i) => fn(i)), [N]);
  for (const [k, p] of PARAMS.entries()) {
    f[p] = vec((i) => (i === 0 ? -0 : (i - 2.5) * (k + 1)));
    f[`${p}.m`] = vec((i) => (i === 1 ? -0 : 0.1 * (i - 3)));
    f[`${p}.g`] = vec((i) => grad(p, i));
  }
  const d = (v: number) => new ort.Tensor('float64', Float64Array.from([v]), []);
  Object.assign(f, { [HYPER_INPUTS.lr]: d(0.01), [HYPER_INPUTS.beta1]: d(0.9), [HYPER_INPUTS.beta2]: d(0.99), [HYPER_INPUTS.weightDecay]: d(0.1) });
  return f;
}

const bits = (t: ort.Tensor) => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));

describe('emitGuarded', () => {
  it('equals the unguarded update on finite gradients and keeps the state on NaN or Inf', async () => {
    const guarded = await stepSession(true);
    const plain = await stepSession(false);
    const finite = feeds((p, i) => (i === 2 ? 0 : Math.sin(i + p.length)));
    const [r1, r2] = [await guarded.run(finite), await plain.run(finite)];
    for (const o of guarded.outputNames) expect(bits(r1[o])).toEqual(bits(r2[o]));
    expect(bits(r1['a.out'])).not.toEqual(bits(finite.a));

    for (const bad of [NaN, Infinity, -Infinity]) {
      const f = feeds((p, i) => (p === 'b' && i === 4 ? bad : 1));
      const r = await guarded.run(f);
      for (const p of PARAMS) {
        expect(bits(r[`${p}.out`])).toEqual(bits(f[p]));
        expect(bits(r[`${p}.m.out`])).toEqual(bits(f[`${p}.m`]));
      }
    }
    await guarded.release();
    await plain.release();
  });
});
