/**
 * A random-direction finite-difference check of a built model's whole gradient: the analytic
 * directional derivative g·d (grad.onnx's gradients, summed in float64) against central
 * differences of eval.onnx's loss along d.
 *
 * The graphs are float32 (the published models are, and onnxruntime has no float64 Conv), so the
 * check is in float32: the loss's rounding (~6e-8·|L|) divided by the step is the error floor.
 * d is scaled per tensor by the tensor's RMS (a step moves every weight by about the same
 * fraction of its own size) and leans on the gradient, so that g·d stands well above that floor.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readManifest } from '../../src/artifacts/read.js';
import { readSafetensors } from '../../src/artifacts/safetensors.js';
import { rng, normals } from './graphs.js';

export interface DirectionalCheck {
  analytic: number;
  numeric: number;
  /** |analytic - numeric| / max(|numeric|, 1e-8). */
  relError: number;
  /**
   * The finite differences' own scatter at the smallest steps, relative: float32 rounding through
   * a deep network (and ReLU/Clip kinks crossed) — the finest error the check can resolve.
   */
  noise: number;
  /** Trainable tensors the direction moves, and their values in all. */
  tensors: number;
  values: number;
}

export async function directionalCheck(dir: string, data: Record<string, ort.Tensor>, opts: { seed?: number; /** First step (default: one that changes the loss by about 1%). */ h?: number; alongGradient?: number;
  /** The loss in float64 from the model output eval.onnx returns (less rounding than its float32 loss). */
  lossOf?: (y: Float32Array) => number;
  /** Move only the trained tensors this accepts (to find which part of a gradient is off). */
  only?: (name: string) => boolean;
} = {}): Promise<DirectionalCheck> {
  const manifest = readManifest(dir);
  const state = readSafetensors(join(dir, manifest.state)).tensors;
  const grad = await ort.InferenceSession.create(join(dir, manifest.graphs.grad!));
  const evalS = await ort.InferenceSession.create(join(dir, manifest.graphs.eval!));
  const trained = manifest.parameters.filter((p) => p.state && p.grad && (opts.only?.(p.name) ?? true));
  const r = rng(opts.seed ?? 5);

  const base = new Map<string, Float32Array>();
  const dirs = new Map<string, Float64Array>();
  /** Each trained tensor's RMS (at least 1e-2): the direction moves it in proportion to its size. */
  const scales = new Map<string, number>();
  let values = 0;
  for (const p of manifest.parameters) base.set(p.name, Float32Array.from(state.get(p.name)!.data as Float32Array));
  for (const p of trained) {
    const v = base.get(p.name)!;
    let ss = 0;
    for (const x of v) ss += x * x;
    const scale = Math.max(Math.sqrt(ss / Math.max(v.length, 1)), 1e-2);
    scales.set(p.name, scale);
    dirs.set(p.name, Float64Array.from(normals(r, v.length), (x) => x * scale));
    values += v.length;
  }
  const paramFeeds = (t: number, inputs: readonly string[]) => {
    const f: Record<string, ort.Tensor> = {};
    for (const p of manifest.parameters) {
      if (!inputs.includes(p.name)) continue;
      const v = base.get(p.name)!;
      const d = dirs.get(p.name);
      const moved = d ? Float32Array.from(v, (x, i) => x + t * d[i]) : v;
      f[p.name] = new ort.Tensor('float32', moved, p.shape);
    }
    return f;
  };
  const dataFor = (inputs: readonly string[]) => Object.fromEntries(Object.entries(data).filter(([k]) => inputs.includes(k)));
  const lossAt = async (t: number) => {
    const out = await evalS.run({ ...dataFor(evalS.inputNames), ...paramFeeds(t, evalS.inputNames) });
    if (opts.lossOf) return opts.lossOf(out[evalS.outputNames[1]].data as Float32Array);
    return Number((out.loss.data as Float32Array)[0]);
  };

  const g = await grad.run({ ...dataFor(grad.inputNames), ...paramFeeds(0, grad.inputNames) });
  // d leans on the (scaled) analytic gradient — a component 0.3 times the random part's norm — so
  // g·d stands well above the float32 loss's rounding; a wrong gradient still shows, since the
  // finite difference measures the true change along whatever d is, and the random part leaves
  // no component out. Leaning harder meets the loss's strongest curvature (silero VAD: errors up
  // to 1.5e-3 with a factor of 3, at most 7.5e-4 with 0.3 over five directions).
  let nn = 0;
  let gg = 0;
  for (const p of trained) {
    const gv = g[p.grad].data as Float32Array;
    const d = dirs.get(p.name)!;
    const scale = scales.get(p.name)!;
    for (let i = 0; i < gv.length; i++) {
      nn += d[i] * d[i];
      gg += (scale * scale * gv[i]) ** 2;
    }
  }
  const gamma = (opts.alongGradient ?? 0.3) * Math.sqrt(nn / Math.max(gg, 1e-300));
  for (const p of trained) {
    const gv = g[p.grad].data as Float32Array;
    const d = dirs.get(p.name)!;
    const scale = scales.get(p.name)!;
    for (let i = 0; i < gv.length; i++) d[i] += gamma * scale * scale * gv[i];
  }
  let analytic = 0;
  for (const p of trained) {
    const gv = g[p.grad].data as Float32Array;
    const d = dirs.get(p.name)!;
    for (let i = 0; i < gv.length; i++) analytic += gv[i] * d[i];
  }
  // Steps from one that changes the loss by about 1% down by thirds; each pair Richardson-
  // extrapolated (error O(h⁴)); the estimate taken where consecutive ones agree best — large
  // steps meet curvature and kinks, small ones the float32 loss's rounding (Ridders' idea).
  const l0 = await lossAt(0);
  const central = async (s: number) => ((await lossAt(s)) - (await lossAt(-s))) / (2 * s);
  const h0 = opts.h ?? (1e-2 * Math.max(Math.abs(l0), 1e-3)) / Math.max(Math.abs(analytic), 1e-12);
  const raw: number[] = [];
  const extrapolated: number[] = [];
  let numeric = NaN;
  let best = Infinity;
  for (let k = 0; k < 8; k++) {
    raw.push(await central(h0 / 3 ** k));
    if (k === 0) continue;
    extrapolated.push((9 * raw[k] - raw[k - 1]) / 8);
    const n = extrapolated.length;
    if (n < 2) continue;
    const spread = Math.abs(extrapolated[n - 1] - extrapolated[n - 2]);
    if (spread < best) {
      best = spread;
      numeric = extrapolated[n - 1];
    }
  }
  await grad.release();
  await evalS.release();
  // The float32 floor, measured: half the spread of the four smallest steps' raw differences,
  // where truncation is negligible and what is left is rounding (and kinks crossed).
  const tail = raw.slice(-4);
  const noise = (Math.max(...tail) - Math.min(...tail)) / 2 / Math.max(Math.abs(numeric), 1e-8);
  return { analytic, numeric, relError: Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-8), noise, tensors: trained.length, values };
}
