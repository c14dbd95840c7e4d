/**
 * Gradient accumulation: the gradient graph (grad.onnx) over micro-batches, their gradients
 * summed weighted by rows — so micro-batches of any sizes average to the gradient of their union
 * under a mean loss — then the apply graph (apply.onnx) once on the average.
 */
import * as ort from 'onnxruntime-node';
import { UsageError } from '../errors.js';
import type { Artifacts } from '../artifacts/read.js';
import type { TypedArray } from '../onnx/data-types.js';
import { batchRows } from './batch.js';
import { createSession, type ExecutionOptions } from './execution-provider.js';
import type { SessionState } from './session-state.js';

export class GradientAccumulator {
  private gradSession: ort.InferenceSession | null = null;
  private applySession: ort.InferenceSession | null = null;
  /** Running row-weighted sums by gradient name, rows and loss so far. */
  private sums: Map<string, Float32Array | Float64Array> | null = null;
  private rows = 0;
  private lossSum = 0;

  constructor(
    private readonly artifacts: Artifacts,
    private readonly exec: ExecutionOptions,
  ) {}

  /** Whether gradients are waiting to be applied. */
  get pending(): boolean {
    return this.sums !== null;
  }

  /** Adds one micro-batch's gradients; returns its loss. */
  async add(feeds: Record<string, ort.Tensor>, state: SessionState): Promise<number> {
    const m = this.artifacts.manifest;
    if (!m.graphs.grad || !m.graphs.apply) throw new UsageError('this artifacts directory has no gradient-accumulation graphs (grad.onnx, apply.onnx); rebuild it with this version of lion-onnx');
    this.gradSession ??= await createSession(this.artifacts.path(m.graphs.grad), this.exec);
    const out = await this.gradSession.run({ ...feeds, ...state.paramFeeds() });
    const rows = batchRows(feeds);
    this.sums ??= new Map();
    for (const p of m.parameters) {
      if (!p.output) continue;
      const g = out[p.grad].data as Float32Array | Float64Array;
      let acc = this.sums.get(p.grad);
      if (!acc) this.sums.set(p.grad, (acc = g instanceof Float64Array ? new Float64Array(g.length) : new Float32Array(g.length)));
      for (let i = 0; i < g.length; i++) acc[i] += rows * g[i];
    }
    this.rows += rows;
    const loss = m.loss ? Number((out[m.loss.name].data as TypedArray)[0]) : Number.NaN;
    this.lossSum += rows * loss;
    return loss;
  }

  /**
   * Runs the apply graph on the averaged gradients with `hyper` feeds; returns its outputs and
   * the mean loss, and starts over.
   */
  async apply(state: SessionState, hyper: Record<string, ort.Tensor>): Promise<{ out: ort.InferenceSession.ReturnType; loss: number }> {
    if (!this.sums || this.rows === 0) throw new UsageError('no accumulated gradients: call accumulate(microBatch) first');
    const m = this.artifacts.manifest;
    this.applySession ??= await createSession(this.artifacts.path(m.graphs.apply!), this.exec);
    const grads: Record<string, ort.Tensor> = {};
    for (const p of m.parameters) {
      if (!p.output) continue;
      const acc = this.sums.get(p.grad)!;
      for (let i = 0; i < acc.length; i++) acc[i] /= this.rows;
      grads[p.grad] = new ort.Tensor(acc instanceof Float64Array ? 'float64' : 'float32', acc, p.shape);
    }
    const out = await this.applySession.run({ ...grads, ...state.feedsFor(this.applySession.inputNames), ...hyper });
    const loss = this.lossSum / this.rows;
    this.sums = null;
    this.rows = 0;
    this.lossSum = 0;
    return { out, loss };
  }

  async dispose(): Promise<void> {
    for (const s of [this.gradSession, this.applySession]) await s?.release();
  }
}
