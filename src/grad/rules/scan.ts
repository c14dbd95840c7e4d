/**
 * The gradient of Scan: a Scan running the other way. Reverse-mode through T iterations of a body
 * f(s, x_t) -> (s', y_t) needs the state each iteration started from, so the forward Scan is run
 * again with those states as extra scan outputs (stored, [T, ...]). The backward Scan then walks
 * the iterations from the last: its body is the forward body (renamed) followed by that body's own
 * backward walk, the vector-Jacobian product of (s', y_t) with (ds', dy_t):
 *
 *   carried:  ds (float states only), dc (per captured value, summed over iterations)
 *   scanned:  the stored states, the scan inputs x_t, the gradients dy_t (each axis and direction
 *             the opposite of the forward's)
 *   outputs:  ds <- d/ds, dc <- dc + d/dc, and dx_t as a scan output written back in x's order
 *
 * The carried ds after the last backward iteration is the gradient of the initial state.
 */
import { attrInt, attrInts } from '../../ir/attributes.js';
import type { ValueInfo } from '../../ir/graph.js';
import { capturedNames } from '../../ir/topo.js';
import { tensorType } from '../../ir/value-type.js';
import { zerosLike, rankOrThrow } from '../emit.js';
import type { GradRule } from '../types.js';
import { isFloat, renamedCopy, subgraphOf, typeFor, vjpLoss } from './subgraphs.js';

export const scanGrad: GradRule = {
  opType: 'Scan',
  backward: (ctx) => {
    const n = ctx.node;
    const body = subgraphOf(n, 'body');
    const K = attrInt(n, 'num_scan_inputs', 0);
    const N = n.inputs.length - K;
    const L = n.outputs.length - N;
    const norm = (a: number, rank: () => number) => (a < 0 ? a + rank() : a);
    const inAxes = Array.from({ length: K }, (_, i) => norm(attrInts(n, 'scan_input_axes')?.[i] ?? 0, () => rankOrThrow(ctx, n.inputs[N + i], 'Scan')));
    const inDirs = Array.from({ length: K }, (_, i) => attrInts(n, 'scan_input_directions')?.[i] ?? 0);
    const outAxes = Array.from({ length: L }, (_, l) => norm(attrInts(n, 'scan_output_axes')?.[l] ?? 0, () => rankOrThrow(ctx, n.outputs[N + l], 'Scan')));
    const outDirs = Array.from({ length: L }, (_, l) => attrInts(n, 'scan_output_directions')?.[l] ?? 0);
    const stateType = (j: number) => ctx.elemType(n.inputs[j]) ?? body.inputs[j].type?.tensor_type?.elem_type;
    const floatStates = [...Array(N).keys()].filter((j) => isFloat(stateType(j)));
    const caps = capturedNames(body).filter((c) => ctx.needsCaptured(c) && isFloat(ctx.elemType(c)));
    const needX = [...Array(K).keys()].filter((i) => ctx.needsGI(N + i));
    const withGo = [...Array(L).keys()].filter((l) => ctx.GO(N + l));
    const none = { inputs: n.inputs.map(() => null), captured: {} };
    if (!caps.length && !needX.length && !floatStates.some((j) => ctx.needsGI(j))) return none;

    // The forward again, with the state each iteration starts from as extra scan outputs.
    let stored: string[] = [];
    if (N > 0) {
      const R = renamedCopy(ctx, body, '/recompute');
      const rb = ctx.b.onGraph(R);
      for (let j = 0; j < N; j++) R.outputs.push({ name: rb.op('Identity', [R.inputs[j].name]), type: R.inputs[j].type });
      const zeros = Array<number>(N).fill(0);
      stored = ctx.b
        .add('Scan', n.inputs, { body: R, num_scan_inputs: K, scan_input_axes: inAxes, scan_input_directions: inDirs, scan_output_axes: [...outAxes, ...zeros], scan_output_directions: [...outDirs, ...zeros] }, { outputs: N + L + N })
        .slice(N + L);
    }

    // One backward iteration: the body, then the VJP of its outputs.
    const B = renamedCopy(ctx, body, '/grad');
    const bb = ctx.b.onGraph(B, 'grad/');
    const declared = (v: ValueInfo, like: string): ValueInfo => ({ name: v.name, type: typeFor(ctx, v.type, like) });
    const dsIn = floatStates.map((j) => ({ name: bb.fresh(`${n.inputs[j] || 'state'}_grad_in`), type: typeFor(ctx, B.inputs[j].type, n.inputs[j]) }));
    const dcIn = caps.map((c) => ({ name: bb.fresh(`${c}_grad_in`), type: tensorType(ctx.elemType(c)!, ctx.shape(c)) }));
    const dyIn = withGo.map((l) => ({ name: bb.fresh(`${n.outputs[N + l]}_grad_t`), type: B.outputs[N + l].type }));
    const loss = vjpLoss(
      { ...ctx, b: bb },
      [...floatStates.map((j) => B.outputs[j].name), ...withGo.map((l) => B.outputs[N + l].name)],
      [...dsIn.map((v) => v.name), ...dyIn.map((v) => v.name)],
    );
    if (!loss) return none;
    const [sIn, xIn] = [B.inputs.slice(0, N).map((v, j) => declared(v, n.inputs[j])), B.inputs.slice(N)];
    const params = [...floatStates.map((j) => sIn[j].name), ...needX.map((i) => xIn[i].name), ...caps];
    // Declared before the walk: it learns the body's shapes from its inputs.
    B.inputs = [...dsIn, ...dcIn, ...sIn, ...xIn, ...dyIn];
    const grads = ctx.backwardOf(B, loss, params, bb);
    B.outputs = [
      ...floatStates.map((j, k) => ({ name: grads.get(sIn[j].name)!, type: dsIn[k].type })),
      ...caps.map((c, k) => ({ name: bb.op('Add', [dcIn[k].name, grads.get(c)!]), type: dcIn[k].type })),
      ...needX.map((i) => ({ name: grads.get(xIn[i].name)!, type: xIn[i].type })),
    ];

    const initial = [...floatStates.map((j) => ctx.GO(j) ?? zerosLike(ctx, n.inputs[j])), ...caps.map((c) => zerosLike(ctx, c))];
    const flip = (d: number) => 1 - d;
    const outs = ctx.b.add(
      'Scan',
      [...initial, ...stored, ...n.inputs.slice(N), ...withGo.map((l) => ctx.GO(N + l)!)],
      {
        body: B,
        num_scan_inputs: N + K + withGo.length,
        scan_input_axes: [...Array<number>(N).fill(0), ...inAxes, ...withGo.map((l) => outAxes[l])],
        scan_input_directions: [...Array<number>(N).fill(1), ...inDirs.map(flip), ...withGo.map((l) => flip(outDirs[l]))],
        scan_output_axes: needX.map((i) => inAxes[i]),
        scan_output_directions: needX.map((i) => flip(inDirs[i])),
      },
      { outputs: floatStates.length + caps.length + needX.length },
    );
    const inputs: (string | null)[] = n.inputs.map(() => null);
    floatStates.forEach((j, k) => (inputs[j] = ctx.needsGI(j) ? outs[k] : null));
    needX.forEach((i, k) => (inputs[N + i] = outs[floatStates.length + caps.length + k]));
    return { inputs, captured: Object.fromEntries(caps.map((c, k) => [c, outs[floatStates.length + k]])) };
  },
};
