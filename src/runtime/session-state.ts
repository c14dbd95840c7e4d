/**
 * The training state of a session: parameters and optimizer state as the onnxruntime tensors
 * the last run returned, fed straight back (the per-step path allocates nothing in JS beyond
 * what onnxruntime returns). Loading checks every tensor against the manifest; taking a run's
 * outputs checks their shapes and reads the non-finite flag.
 */
import * as ort from 'onnxruntime-node';
import { DataError, UsageError } from '../errors.js';
import type { Manifest } from '../artifacts/manifest.js';
import { checkStateTensors } from '../artifacts/check-state.js';
import type { TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import { fromOrt, toOrt } from './ort-tensor.js';

export class SessionState {
  /** Parameters and optimizer state by their step-graph input names. */
  private readonly tensors = new Map<string, ort.Tensor>();

  constructor(private readonly manifest: Manifest) {}

  /** Replaces the whole state with `tensors` (from a state or checkpoint file `source`), checked. */
  load(tensors: Map<string, Tensor>, source: string): void {
    checkStateTensors(this.manifest, tensors, source, { state: true });
    for (const i of this.manifest.inputs) if (i.role === 'param' || i.role === 'state') this.tensors.set(i.name, toOrt(tensors.get(i.name)!));
  }

  /** Feeds for every parameter and state input. */
  feeds(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.tensors);
  }

  /** The parameters alone (the gradient and eval graphs take no optimizer state). */
  paramFeeds(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.manifest.parameters.map((p) => [p.name, this.tensors.get(p.name)!]));
  }

  /** The state inputs a graph takes, by its input names (the apply graph takes the trained ones). */
  feedsFor(inputNames: readonly string[]): Record<string, ort.Tensor> {
    const want = new Set(inputNames);
    return Object.fromEntries([...this.tensors].filter(([name]) => want.has(name)));
  }

  /**
   * Takes the state after `k` steps (one run of the step, loop or apply graph); returns the
   * per-step skip flags (non-finite gradients). With --nonfinite error, a skipped step throws.
   */
  /**
   * The per-step non-finite flags of a run (all false without the flag). A loop graph that
   * checks its final state (loop-steps.ts) has one flag for the whole run: it marks every step.
   */
  flags(out: ort.InferenceSession.ReturnType, k: number): boolean[] {
    const flag = this.manifest.outputs.find((o) => o.role === 'nonfinite');
    if (!flag) return new Array<boolean>(k).fill(false);
    const data = out[flag.name].data as Uint8Array;
    return data.length === k ? Array.from(data, Boolean) : new Array<boolean>(k).fill(data.some(Boolean));
  }

  take(out: ort.InferenceSession.ReturnType, k: number, stepsDone: number): boolean[] {
    const flags = this.flags(out, k);
    if (flags.some(Boolean) && this.manifest.optimizer.nonFinite === 'error')
      throw new DataError(`a gradient holds NaN or Inf at step ${stepsDone + 1}; the parameters were left unchanged (built with --nonfinite error; lower the learning rate or check the data)`);
    for (const p of this.manifest.parameters) {
      if (!p.output) continue;
      const np = out[p.output];
      if (np.dims.length !== p.shape.length || np.dims.some((d, i) => d !== p.shape[i]))
        throw new DataError(`the update produced '${p.output}' with shape [${np.dims.join(', ')}] for parameter '${p.name}' [${p.shape.join(', ')}]; its gradient has the wrong shape`);
      this.tensors.set(p.name, np);
      for (const st of p.state ?? []) this.tensors.set(st.name, out[st.output]);
    }
    return flags;
  }

  /** Current value of a parameter (a copy). */
  parameter(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t || !this.manifest.parameters.some((p) => p.name === name)) throw new UsageError(`no parameter named '${name}'; parameters are ${this.manifest.parameters.map((p) => p.name).join(', ')}`);
    const r = fromOrt(name, t);
    return { ...r, data: (r.data as TypedArray).slice() };
  }

  /** Replaces a parameter's value (same shape and type; copied). */
  setParameter(name: string, data: Float32Array | Float64Array): void {
    const p = this.manifest.parameters.find((x) => x.name === name);
    if (!p) throw new UsageError(`no parameter named '${name}'; parameters are ${this.manifest.parameters.map((x) => x.name).join(', ')}`);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new DataError(`parameter '${name}' has ${n} values [${p.shape.join(', ')}], got ${data.length}`);
    const want = p.dtype === 'float64' ? Float64Array : Float32Array;
    if (!(data instanceof want)) throw new DataError(`parameter '${name}' is ${p.dtype}`);
    this.tensors.set(name, new ort.Tensor(p.dtype === 'float64' ? 'float64' : 'float32', data.slice(), p.shape));
  }

  /** All optimizer state of a parameter, one tensor per slot (copies); frozen parameters have none. */
  slots(name: string): Tensor[] {
    const p = this.manifest.parameters.find((x) => x.name === name);
    if (!p?.state) throw new UsageError(`parameter '${name}' has no optimizer state (unknown or frozen)`);
    return p.state.map((st) => {
      const r = fromOrt(st.name, this.tensors.get(st.name)!);
      return { ...r, data: (r.data as TypedArray).slice() };
    });
  }

  /** Every parameter and state tensor (views, for a checkpoint). */
  all(): Tensor[] {
    return this.manifest.inputs.filter((i) => i.role === 'param' || i.role === 'state').map((i) => fromOrt(i.name, this.tensors.get(i.name)!));
  }
}
