/**
 * LSTM and GRU gradients (grad/rules/recurrent.ts). onnxruntime has float32 kernels only for
 * both, so each form in the table is checked three ways:
 *
 *  1. the rule's expression (the cell math in a Scan) equals ONNX Runtime's LSTM/GRU forward,
 *     float32, every output (max |diff| <= 5e-7; the worst seen is 6e-8); ORT runs layout 0 only, so a layout-1 form is
 *     compared with the kernel run on its inputs transposed;
 *  2. the expression's gradient against finite differences in float64 (tolerance 1e-6): the
 *     rule is the backward walk of that expression, so this checks the rule's numbers exactly;
 *  3. the rule on the real node against finite differences of ORT's kernel in float32 (layout 0), step 1e-2:
 *     the central difference's truncation error is ~eps²·|f'''| ≈ 1e-4 and its rounding error
 *     ~1e-7·|L|/eps ≈ 1e-5 for these sizes; the worst seen is 7.3e-5, the tolerance 1e-3.
 *
 * Forms: forward, reverse, bidirectional; sequence 1 and 3; batch 2; with and without initial
 * states, bias, peepholes; layout 0 and 1; GRU's linear_before_reset 0 and 1; sequence_lens equal
 * to the sequence length; Y, Y_h, Y_c alone and together. Forms outside what the rule covers are
 * refused in one line naming the node.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { expandRecurrent } from '../../src/grad/rules/recurrent.js';
import { buildBackward } from '../../src/grad/backward.js';
import { makeAttribute, type AttrInput } from '../../src/ir/attributes.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph, type Node } from '../../src/ir/graph.js';
import { ShapeInfo } from '../../src/ir/shape-info.js';
import { tensorType } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { checkVjp, rng, session, type InputSpec } from './check-vjp.js';
import { model } from '../helpers/graphs.js';

interface Form {
  name: string;
  op: 'LSTM' | 'GRU';
  attrs: Record<string, AttrInput>;
  seq: number;
  dirs: number;
  /** Which optional inputs are present: B, sequence_lens, initial_h, initial_c, P. */
  with: ('B' | 'lens' | 'h0' | 'c0' | 'P')[];
  /** Outputs in the loss (default all). */
  loss?: number[];
}

const I = 3;
const H = 2;
const BATCH = 2;

const forms: Form[] = [
  { name: 'LSTM forward, seq 1, no initial states, Y and Y_h', op: 'LSTM', attrs: {}, seq: 1, dirs: 1, with: ['B'], loss: [0, 1] },
  { name: 'LSTM forward, seq 3, initial states, every output', op: 'LSTM', attrs: {}, seq: 3, dirs: 1, with: ['B', 'h0', 'c0'] },
  { name: 'LSTM reverse, seq 3, initial states, Y_h and Y_c', op: 'LSTM', attrs: { direction: 'reverse' }, seq: 3, dirs: 1, with: ['B', 'h0', 'c0'], loss: [1, 2] },
  { name: 'LSTM bidirectional, seq 3, initial states, Y', op: 'LSTM', attrs: { direction: 'bidirectional' }, seq: 3, dirs: 2, with: ['B', 'h0', 'c0'], loss: [0] },
  { name: 'LSTM bidirectional, seq 1, no states, Y_h', op: 'LSTM', attrs: { direction: 'bidirectional' }, seq: 1, dirs: 2, with: ['B'], loss: [1] },
  { name: 'LSTM layout 1, bidirectional, seq 3, initial states', op: 'LSTM', attrs: { direction: 'bidirectional', layout: 1 }, seq: 3, dirs: 2, with: ['B', 'h0', 'c0'] },
  { name: 'LSTM peepholes, sequence_lens = 3, default activations spelled out', op: 'LSTM', attrs: { activations: ['Sigmoid', 'Tanh', 'Tanh'] }, seq: 3, dirs: 1, with: ['B', 'lens', 'h0', 'c0', 'P'] },
  { name: 'LSTM without bias, h0 only', op: 'LSTM', attrs: {}, seq: 3, dirs: 1, with: ['h0'] },
  { name: 'GRU forward linear_before_reset 1 (torch), seq 1, no h0', op: 'GRU', attrs: { linear_before_reset: 1 }, seq: 1, dirs: 1, with: ['B'] },
  { name: 'GRU forward linear_before_reset 1, seq 3, h0, Y_h', op: 'GRU', attrs: { linear_before_reset: 1 }, seq: 3, dirs: 1, with: ['B', 'h0'], loss: [1] },
  { name: 'GRU reverse linear_before_reset 0, seq 3, h0', op: 'GRU', attrs: { direction: 'reverse' }, seq: 3, dirs: 1, with: ['B', 'h0'] },
  { name: 'GRU bidirectional layout 1, linear_before_reset 1, seq 3, h0', op: 'GRU', attrs: { direction: 'bidirectional', layout: 1, linear_before_reset: 1 }, seq: 3, dirs: 2, with: ['B', 'h0'] },
  { name: 'GRU bidirectional, linear_before_reset 0, no bias, seq 1', op: 'GRU', attrs: { direction: 'bidirectional' }, seq: 1, dirs: 2, with: ['h0'] },
];

function inputsOf(f: Form): (InputSpec | null)[] {
  const gates = f.op === 'LSTM' ? 4 : 3;
  const batchFirst = f.attrs.layout === 1;
  const x = batchFirst ? [BATCH, f.seq, I] : [f.seq, BATCH, I];
  const state = batchFirst ? [BATCH, f.dirs, H] : [f.dirs, BATCH, H];
  const has = (k: Form['with'][number]) => f.with.includes(k);
  const list: (InputSpec | null)[] = [
    { shape: x },
    { shape: [f.dirs, gates * H, I] },
    { shape: [f.dirs, gates * H, H] },
    has('B') ? { shape: [f.dirs, 2 * gates * H] } : null,
    has('lens') ? { shape: [BATCH], type: 'int32', values: Array(BATCH).fill(f.seq) } : null,
    has('h0') ? { shape: state } : null,
    has('c0') ? { shape: state } : null,
    has('P') ? { shape: [f.dirs, 3 * H] } : null,
  ];
  while (list.at(-1) === null) list.pop();
  return list;
}

const outputsOf = (f: Form) => (f.op === 'LSTM' ? 3 : 2);

function nodeFor(f: Form, inputs: string[]): Node {
  return { opType: f.op, inputs, outputs: Array(outputsOf(f)).fill(''), attributes: Object.entries({ hidden_size: H, ...f.attrs }).map(([k, v]) => makeAttribute(k, v)), name: `${f.op}_under_test` };
}

/** The rule's expression of the node, emitted into the graph `b` builds. */
function expression(f: Form) {
  return (b: GraphBuilder, inputs: string[]) => {
    const info = new ShapeInfo(b.graph, 17);
    return expandRecurrent({ b, opset: 17, shape: (n) => info.shape(n), elemType: (n) => info.elemType(n), value: (n) => info.value(n) }, nodeFor(f, inputs));
  };
}

describe('LSTM and GRU: the rule’s expression is the kernel', () => {
  for (const f of forms)
    it(f.name, async () => {
      const g = new Graph();
      g.name = 'expression_vs_kernel';
      const b = new GraphBuilder(g);
      const r = rng(3);
      const feeds: Record<string, ort.Tensor> = {};
      const names = inputsOf(f).map((spec, i) => {
        if (!spec) return '';
        const name = `in${i}`;
        const values = spec.values ?? Array.from({ length: spec.shape.reduce((a, c) => a * c, 1) }, () => r() * 2 - 1);
        // sequence_lens is a constant, as the rule needs it.
        if (spec.type === 'int32') return b.constant(name, DataType.INT32, spec.shape, values);
        g.inputs.push({ name, type: tensorType(DataType.FLOAT, spec.shape) });
        feeds[name] = new ort.Tensor('float32', Float32Array.from(values), spec.shape);
        return name;
      });
      // onnxruntime runs layout 0 only: for layout 1 its kernel runs on the inputs transposed, and
      // its outputs are transposed back.
      const batchFirst = f.attrs.layout === 1;
      const t = (x: string, perm: number[]) => (x && batchFirst ? b.op('Transpose', [x], { perm }) : x);
      const { layout: _, ...attrs } = f.attrs;
      const kernelIn = names.map((x, i) => (i === 0 || i === 5 || i === 6 ? t(x, [1, 0, 2]) : x));
      const kernel = b.add(f.op, kernelIn, { hidden_size: H, ...attrs }, { outputs: outputsOf(f) }).map((y, i) => t(y, i === 0 ? [2, 0, 1, 3] : [1, 0, 2]));
      const mine = expression(f)(b, names);
      g.outputs = [...kernel, ...mine].map((name) => ({ name }));
      const s = await session(model(g, 17));
      const out = await s.run(feeds);
      await s.release();
      kernel.forEach((k, i) => {
        const [a, c] = [out[k], out[mine[i]]];
        expect(c.dims).toEqual(a.dims);
        const diff = Math.max(...Array.from(a.data as Float32Array, (v, j) => Math.abs(v - (c.data as Float32Array)[j])));
        if (process.env.VJP_LOG) console.log(`kernel ${f.name} output ${i}: max |expression - kernel| = ${diff.toExponential(2)}`);
        expect(diff, `output ${i}`).toBeLessThan(5e-7);
      });
    });
});

describe('LSTM and GRU: the expression’s gradient against finite differences (float64)', () => {
  for (const f of forms)
    it(f.name, async () => {
      const r = await checkVjp({ inputs: inputsOf(f), outputs: outputsOf(f), lossOutputs: f.loss, dtype: 'float64', build: expression(f) });
      expect(r.maxGrad).toBeGreaterThan(0.05);
    });
});

describe('LSTM and GRU: the rule on the kernel against finite differences (float32)', () => {
  // onnxruntime refuses layout 1 ("Batchwise recurrent operations (layout == 1) are not supported").
  for (const f of forms.filter((x) => x.attrs.layout !== 1))
    it(f.name, async () => {
      const r = await checkVjp({ op: f.op, attrs: { hidden_size: H, ...f.attrs }, inputs: inputsOf(f), outputs: outputsOf(f), lossOutputs: f.loss, dtype: 'float32' }, { tol: 1e-3 });
      expect(r.maxGrad).toBeGreaterThan(0.05);
    });
});

describe('LSTM and GRU: forms the rule does not cover are refused', () => {
  const refused = (f: Partial<Form> & Pick<Form, 'attrs'>, lens?: InputSpec) => {
    const form: Form = { name: '', op: 'LSTM', seq: 3, dirs: 1, with: ['B'], ...f };
    const inputs = inputsOf(form);
    if (lens) inputs[4] = lens;
    const g = new Graph();
    const b = new GraphBuilder(g);
    const names = inputs.map((spec, i) => {
      if (!spec) return '';
      g.inputs.push({ name: `in${i}`, type: tensorType(spec.type === 'int32' ? DataType.INT32 : DataType.FLOAT, spec.shape) });
      return `in${i}`;
    });
    if (lens?.values) {
      g.inputs.pop();
      b.constant('lens', DataType.INT32, lens.shape, lens.values);
      names[4] = 'lens';
    }
    const [y] = b.add(form.op, names, { hidden_size: H, ...form.attrs }, { outputs: outputsOf(form), name: 'rnn' });
    const loss = b.op('ReduceSum', [y], { keepdims: 0 });
    return () => buildBackward(g, { loss, params: ['in1'], opset: 17 });
  };
  it.each([
    ['other activations', { attrs: { activations: ['Sigmoid', 'Tanh', 'Relu'] } }, /^LSTM node 'rnn' \(LSTM\): its activations are \[Sigmoid, Tanh, Relu\], not the default \[Sigmoid, Tanh, Tanh\]/],
    ['activation_alpha', { op: 'GRU' as const, attrs: { activation_alpha: { floats: [1, 1] } } }, /^GRU node 'rnn' \(GRU\): it sets activation_alpha/],
    ['clip', { attrs: { clip: { float: 3 } } }, /it clips the cell input \(clip is set\)/],
    ['input_forget', { attrs: { input_forget: 1 } }, /input_forget = 1/],
  ])('%s', (_, f, message) => {
    expect(refused(f)).toThrow(message);
  });
  it('ragged sequence_lens, and sequence_lens fed at run time', () => {
    expect(refused({ attrs: {} }, { shape: [2], type: 'int32', values: [3, 2] })).toThrow(/its sequence_lens 'lens' \[3, 2\] differ from the sequence length 3; .* pass sequences of one length/);
    expect(refused({ attrs: {} }, { shape: [2], type: 'int32' })).toThrow(/its sequence_lens 'in4' is known only at run time/);
  });
});
