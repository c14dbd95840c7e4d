/**
 * The trained model as torch's state_dict: every tensor under its torch name and in torch's
 * layout (folded Linear weights transposed back), a tensor torch ties under several names
 * (an embedding and its output head) under each of them, and the tensors torch keeps but does
 * not train (buffers such as running statistics and masks) with their values, so that
 * `model.load_state_dict(safetensors.torch.load_file(f), strict=True)` takes it. What has no
 * torch name (a tensor the exporter computed, a BatchNorm folded into a conv) is left out, and
 * said so.
 */
import type { Manifest } from '../artifacts/manifest.js';
import type { TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Model } from '../ir/graph.js';

/** Whether a tensor name is one torch's exporter made up (no state_dict entry has it). */
const generated = (name: string) => name.startsWith('onnx::');

function transposed(t: Tensor): Tensor {
  const [r, c] = t.dims;
  const src = t.data as TypedArray;
  const out = new (src.constructor as new (n: number) => TypedArray)(src.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) (out as Float32Array)[j * r + i] = (src as Float32Array)[i * c + j];
  return { ...t, dims: [c, r], data: out };
}

export interface TorchState {
  tensors: Tensor[];
  /** Tensors of the model with no torch name, left out. */
  leftOut: string[];
}

/** The state_dict of a build (its manifest's `tensors`), from the trained `weights` and the inference model's other initializers. */
export function torchState(manifest: Manifest, inference: Model, weights: Map<string, Tensor>): TorchState {
  const out = new Map<string, Tensor>();
  const leftOut: string[] = [];
  const add = (name: string, t: Tensor) => {
    if (!out.has(name)) out.set(name, { ...t, name });
  };
  const planned = new Set<string>();
  for (const p of manifest.tensors ?? []) {
    planned.add(p.name);
    const value = weights.get(p.name) ?? inference.graph.initializer(p.name);
    if (!value) continue;
    const torchName = p.torch?.name ?? (generated(p.name) ? undefined : p.name);
    if (!torchName) {
      leftOut.push(p.name);
      continue;
    }
    const t = p.torch?.transposed ? transposed(value) : value;
    add(torchName, t);
    for (const alias of p.torch?.aliases ?? []) add(alias, t);
  }
  // Buffers discovery does not plan (integer ones, say) are state_dict entries too.
  for (const t of inference.graph.initializers) if (!planned.has(t.name) && !generated(t.name)) add(t.name, t);
  return { tensors: [...out.values()], leftOut };
}
