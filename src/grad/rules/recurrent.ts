/**
 * Gradients of LSTM and GRU, through their cell math written as a Scan over time (rules/scan.ts
 * differentiates that Scan: a reverse Scan that recomputes each step's gates from the stored
 * states). ONNX Runtime's CPU kernels for both are float32 only and its LSTMGrad/GRUGrad are
 * com.microsoft training ops; the expression here is standard ONNX at any float type.
 *
 * The forms torch and paddle export: direction forward, reverse or bidirectional; layout 0 or 1;
 * the default activations; bias, initial states and (LSTM) peepholes present or not;
 * sequence_lens absent or all equal to the sequence length. Y, Y_h and Y_c in any combination.
 * ONNX's gate order: LSTM W = [i, o, f, c], P = [i, o, f]; GRU W = [z, r, h]; B = [Wb, Rb].
 *
 *   LSTM: i = σ(x·Wi + h·Ri + bi + Pi⊙c), f = σ(… + Pf⊙c), g = tanh(x·Wc + h·Rc + bc),
 *         c' = f⊙c + i⊙g, o = σ(x·Wo + h·Ro + bo + Po⊙c'), h' = o⊙tanh(c')
 *   GRU:  z = σ(x·Wz + h·Rz + bz), r = σ(x·Wr + h·Rr + br),
 *         n = tanh(x·Wh + Wbh + r⊙(h·Rh + Rbh))    (linear_before_reset = 1, torch's)
 *         n = tanh(x·Wh + Wbh + (r⊙h)·Rh + Rbh)    (linear_before_reset = 0)
 *         h' = n + z⊙(h − n)
 */
import { GraphError } from '../../errors.js';
import { attrFloat, attrInt, attrString } from '../../ir/attributes.js';
import { AttrType, Graph, type Node } from '../../ir/graph.js';
import { tensorType, type Dim } from '../../ir/value-type.js';
import { makeTensor } from '../../onnx/tensor.js';
import { dimOf, elemTypeOrThrow, int64s, split, squeeze, unsqueeze } from '../emit.js';
import type { Emitter, GradRule } from '../types.js';
import { gradientThrough, nodeLabel } from './subgraphs.js';

const DEFAULT_ACTIVATIONS: Record<string, string[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'] };

/** What the expression needs to know about the node, checked: a form it does not cover is refused. */
interface Form {
  lstm: boolean;
  hidden: number;
  directions: number;
  batchFirst: boolean;
  linearBeforeReset: boolean;
}

function formOf(e: Emitter, n: Node): Form {
  const refuse = (what: string, todo: string) => new GraphError(`${n.opType} node ${nodeLabel(n)}: ${what}; lion-onnx differentiates ${n.opType} in the form torch and paddle export — ${todo}`);
  const lstm = n.opType === 'LSTM';
  const hidden = attrInt(n, 'hidden_size');
  if (!hidden) throw refuse('it has no hidden_size', 're-export the model');
  const direction = attrString(n, 'direction', 'forward');
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) throw refuse(`direction '${direction}' is not forward, reverse or bidirectional`, 're-export the model');
  const directions = direction === 'bidirectional' ? 2 : 1;
  const acts = n.attributes.find((a) => a.name === 'activations');
  if (acts) {
    const names = ((acts.value as Uint8Array[]) ?? []).map((s) => new TextDecoder().decode(s));
    const want = Array.from({ length: directions }, () => DEFAULT_ACTIVATIONS[n.opType]).flat();
    if (acts.type !== AttrType.STRINGS || names.join() !== want.join())
      throw refuse(`its activations are [${names.join(', ')}], not the default [${want.join(', ')}]`, 'replace the node by its cell math or re-export with the default activations');
  }
  for (const a of ['activation_alpha', 'activation_beta'])
    if (n.attributes.some((x) => x.name === a)) throw refuse(`it sets ${a}`, 'replace the node by its cell math or re-export with the default activations');
  if (attrFloat(n, 'clip') !== undefined) throw refuse('it clips the cell input (clip is set)', 're-export without clipping');
  if (lstm && attrInt(n, 'input_forget', 0) !== 0) throw refuse('it couples the input and forget gates (input_forget = 1)', 're-export with separate gates');
  const lens = n.inputs[4];
  if (lens) {
    const values = e.value(lens);
    const x = e.shape(n.inputs[0]);
    const seq = x?.[attrInt(n, 'layout', 0) === 1 ? 1 : 0];
    if (!values || typeof seq !== 'number' || values.some((v) => v !== seq))
      throw refuse(
        `its sequence_lens '${lens}' ${values ? `[${values.join(', ')}] ${typeof seq === 'number' ? `differ from the sequence length ${seq}` : 'cannot be checked against a sequence length known only at run time'}` : 'is known only at run time'}`,
        'pass sequences of one length (pad them) and drop sequence_lens',
      );
  }
  return { lstm, hidden, directions, batchFirst: attrInt(n, 'layout', 0) === 1, linearBeforeReset: attrInt(n, 'linear_before_reset', 0) === 1 };
}

/** Direction d's slice of a [directions, ...] tensor, without the leading axis. */
function direction(e: Emitter, x: string, d: number, directions: number): string {
  if (directions === 1) return squeeze(e, x, [0]);
  return squeeze(e, split(e, x, 0, [1, 1], 2)[d], [0]);
}

interface Step {
  /** The body's state inputs (h, and c for LSTM) and its one scanned input, x·Wᵀ + bias at step t. */
  h: string;
  c?: string;
  xw: string;
}

/** The per-direction weights the cell reads (captured by the Scan body). */
interface Weights {
  rt: string;
  rb?: string;
  peep?: [string, string, string];
  /** GRU, linear_before_reset = 0: Rᵀ of the z and r gates and of the candidate, and their biases. */
  rtZr?: string;
  rtH?: string;
  rbZr?: string;
  rbH?: string;
}

const sigmoid = (e: Emitter, x: string) => e.b.op('Sigmoid', [x]);
const tanh = (e: Emitter, x: string) => e.b.op('Tanh', [x]);
const add = (e: Emitter, ...xs: (string | undefined)[]) => xs.filter((x): x is string => !!x).reduce((a, b) => e.b.op('Add', [a, b]));
const mul = (e: Emitter, a: string, b: string) => e.b.op('Mul', [a, b]);

/** One LSTM step: (h', c', y_t). */
function lstmCell(e: Emitter, s: Step, w: Weights, hidden: number): string[] {
  const z = add(e, s.xw, e.b.op('MatMul', [s.h, w.rt]));
  const [zi, zo, zf, zc] = split(e, z, -1, [hidden, hidden, hidden, hidden], 4);
  const peep = (zg: string, k: number, c: string) => (w.peep ? add(e, zg, mul(e, w.peep[k], c)) : zg);
  const i = sigmoid(e, peep(zi, 0, s.c!));
  const f = sigmoid(e, peep(zf, 2, s.c!));
  const c2 = add(e, mul(e, f, s.c!), mul(e, i, tanh(e, zc)));
  const o = sigmoid(e, peep(zo, 1, c2));
  const h2 = mul(e, o, tanh(e, c2));
  return [h2, c2, e.b.op('Identity', [h2])];
}

/** One GRU step: (h', y_t). */
function gruCell(e: Emitter, s: Step, w: Weights, hidden: number, linearBeforeReset: boolean): string[] {
  const [xz, xr, xh] = split(e, s.xw, -1, [hidden, hidden, hidden], 3);
  let z: string, n: string;
  if (linearBeforeReset) {
    const [hz, hr, hh] = split(e, add(e, e.b.op('MatMul', [s.h, w.rt]), w.rb), -1, [hidden, hidden, hidden], 3);
    z = sigmoid(e, add(e, xz, hz));
    const r = sigmoid(e, add(e, xr, hr));
    n = tanh(e, add(e, xh, mul(e, r, hh)));
  } else {
    const [hz, hr] = split(e, add(e, e.b.op('MatMul', [s.h, w.rtZr!]), w.rbZr), -1, [hidden, hidden], 2);
    z = sigmoid(e, add(e, xz, hz));
    const r = sigmoid(e, add(e, xr, hr));
    n = tanh(e, add(e, xh, e.b.op('MatMul', [mul(e, r, s.h), w.rtH!]), w.rbH));
  }
  const h2 = add(e, n, mul(e, z, e.b.op('Sub', [s.h, n])));
  return [h2, e.b.op('Identity', [h2])];
}

/**
 * The node's outputs (Y, Y_h and, for LSTM, Y_c) as standard ONNX: per direction, x·Wᵀ + Wb for
 * every step at once, then a Scan over time (reversed for the reverse direction) whose body is
 * one cell step. Exported for the tests, which check it against ONNX Runtime's kernels.
 */
export function expandRecurrent(e: Emitter, n: Node): string[] {
  const form = formOf(e, n);
  const { hidden: H, directions: D, lstm } = form;
  const gates = lstm ? 4 : 3;
  const ft = elemTypeOrThrow(e, n.inputs[0], `the gradient of ${n.opType}`);
  const swap = (x: string) => e.b.op('Transpose', [x], { perm: [1, 0, 2] });
  const x = form.batchFirst ? swap(n.inputs[0]) : n.inputs[0];
  const xs = e.shape(n.inputs[0]);
  const batch: Dim = xs?.[form.batchFirst ? 0 : 1] ?? null;
  const state = (i: number) => (n.inputs[i] ? (form.batchFirst ? swap(n.inputs[i]) : n.inputs[i]) : undefined);
  const [h0, c0] = [state(5), lstm ? state(6) : undefined];
  const zeros = () => {
    const shape = typeof batch === 'number' ? int64s(e, [batch, H]) : e.b.op('Concat', [dimOf(e, x, 1), int64s(e, [H])], { axis: 0 });
    return e.b.op('ConstantOfShape', [shape], { value: makeTensor('', ft, [1], [0]) });
  };
  const ys: string[] = [];
  const hs: string[] = [];
  const cs: string[] = [];
  for (let d = 0; d < D; d++) {
    const wd = direction(e, n.inputs[1], d, D);
    const rd = direction(e, n.inputs[2], d, D);
    const [wb, rb] = n.inputs[3] ? split(e, direction(e, n.inputs[3], d, D), 0, [gates * H, gates * H], 2) : [undefined, undefined];
    const t = (m: string) => e.b.op('Transpose', [m], { perm: [1, 0] });
    const w: Weights = { rt: t(rd) };
    let xw = add(e, e.b.op('MatMul', [x, t(wd)]), wb);
    if (lstm) {
      xw = add(e, xw, rb);
      if (n.inputs[7]) w.peep = split(e, direction(e, n.inputs[7], d, D), 0, [H, H, H], 3) as [string, string, string];
    } else if (form.linearBeforeReset) w.rb = rb;
    else {
      const [rZr, rH] = split(e, rd, 0, [2 * H, H], 2);
      [w.rtZr, w.rtH] = [t(rZr), t(rH)];
      if (rb) [w.rbZr, w.rbH] = split(e, rb, 0, [2 * H, H], 2);
    }
    const body = new Graph();
    body.name = e.b.fresh(`${n.name ?? n.opType}_cell_${d}`);
    const bb = e.b.onGraph(body, 'grad/cell/');
    const be: Emitter = { ...e, b: bb };
    const input = (name: string, width: number) => {
      const v = { name: bb.fresh(name), type: tensorType(ft, [batch, width]) };
      body.inputs.push(v);
      return v.name;
    };
    const step: Step = { h: input('h', H), ...(lstm ? { c: input('c', H) } : {}), xw: input('xw_t', gates * H) };
    const outs = lstm ? lstmCell(be, step, w, H) : gruCell(be, step, w, H, form.linearBeforeReset);
    body.outputs = outs.map((o) => ({ name: o, type: tensorType(ft, [batch, H]) }));
    const reverse = attrString(n, 'direction', 'forward') === 'reverse' || d === 1 ? 1 : 0;
    const init = lstm ? [h0 ? direction(e, h0, d, D) : zeros(), c0 ? direction(e, c0, d, D) : zeros()] : [h0 ? direction(e, h0, d, D) : zeros()];
    const r = e.b.add('Scan', [...init, xw], { body, num_scan_inputs: 1, scan_input_directions: [reverse], scan_output_directions: [reverse] }, { outputs: outs.length });
    hs.push(r[0]);
    if (lstm) cs.push(r[1]);
    ys.push(r[r.length - 1]);
  }
  const join = (parts: string[], axis: number) => (parts.length === 1 ? unsqueeze(e, parts[0], [axis]) : e.b.op('Concat', parts.map((p) => unsqueeze(e, p, [axis])), { axis }));
  let y = join(ys, 1);
  let yh = join(hs, 0);
  let yc = lstm ? join(cs, 0) : undefined;
  if (form.batchFirst) {
    y = e.b.op('Transpose', [y], { perm: [2, 0, 1, 3] });
    yh = swap(yh);
    yc = yc && swap(yc);
  }
  return yc ? [y, yh, yc] : [y, yh];
}

const rule = (opType: string): GradRule => ({
  opType,
  backward: (ctx) => gradientThrough(ctx, (e) => expandRecurrent(e, ctx.node)),
});

export const lstmGrad = rule('LSTM');
export const gruGrad = rule('GRU');
