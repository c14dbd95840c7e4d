/** Runs two models on the same feeds in onnxruntime-node and says where their outputs differ. */
import * as ort from 'onnxruntime-node';
import { modelToBytes } from '../../src/ir/model-io.js';
import type { Model } from '../../src/ir/graph.js';

export const REL_TOL = 1e-5;

/** One output's first difference (floats within REL_TOL relative, everything else exact), or null. */
export function outputDifference(name: string, a: ort.Tensor, b: ort.Tensor): string | null {
  if (a.type !== b.type) return `${name}: type ${a.type} vs ${b.type}`;
  if (a.dims.join() !== b.dims.join()) return `${name}: shape [${a.dims}] vs [${b.dims}]`;
  const x = a.data as ArrayLike<number | bigint | string | boolean>;
  const y = b.data as ArrayLike<number | bigint | string | boolean>;
  const float = a.type === 'float32' || a.type === 'float64' || a.type === 'float16';
  for (let i = 0; i < x.length; i++) {
    if (float) {
      const p = x[i] as number;
      const q = y[i] as number;
      if (Number.isNaN(p) && Number.isNaN(q)) continue;
      if (p === q) continue;
      if (!(Math.abs(p - q) <= REL_TOL * Math.max(Math.abs(p), Math.abs(q)))) return `${name}[${i}]: ${p} vs ${q}`;
    } else if (x[i] !== y[i]) return `${name}[${i}]: ${String(x[i])} vs ${String(y[i])}`;
  }
  return null;
}

export async function session(m: Model | Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(m instanceof Uint8Array ? m : modelToBytes(m), { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
}

/** Both models' outputs for `feeds`, and the first difference between them (null when they agree). */
export async function compareRuns(original: Model | Uint8Array, upgraded: Model, feeds: Record<string, ort.Tensor>): Promise<{ difference: string | null; outputs: Record<string, ort.Tensor> }> {
  const a = await (await session(original)).run(feeds);
  const b = await (await session(upgraded)).run(feeds);
  for (const k of Object.keys(a)) {
    if (!b[k]) return { difference: `${k}: missing from the upgraded model's outputs`, outputs: a };
    const d = outputDifference(k, a[k], b[k]);
    if (d) return { difference: d, outputs: a };
  }
  return { difference: null, outputs: a };
}
