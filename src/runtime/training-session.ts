/**
 * TrainingSession: runs a Lion training program (an artifacts directory) on onnxruntime-node.
 *
 * State (parameters and momenta) lives as the ORT tensors the last run returned and is fed
 * straight back, so the per-step path allocates nothing in JS beyond what ORT returns.
 * Hyperparameters and the learning rate are graph inputs: schedules never rebuild a graph.
 */
import { mkdirSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { DataError, UsageError } from '../errors.js';
import { openArtifacts, readInitialState, type Artifacts } from '../artifacts/read.js';
import type { Manifest } from '../artifacts/manifest.js';
import { checkStateTensors } from '../artifacts/check-state.js';
import type { TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import { optimizerByName, resolveHyperparameters } from '../optim/registry.js';
import type { Hyperparameters, Optimizer } from '../optim/types.js';
import { batchRows, sliceRows, toFeeds, typeOfArray, type Batch } from './batch.js';
import { KEEP_CHECKPOINTS, readCheckpoint, writeCheckpoint } from '../artifacts/checkpoint.js';
import { writeExport, type ExportOptions } from './export-model.js';
import { createSession, type ExecutionOptions } from './execution-provider.js';
import { fromOrt, scalarF64, toOrt } from './ort-tensor.js';
import { learningRate, type Schedule } from './schedule.js';

export interface TrainingSessionOptions extends ExecutionOptions {
  /** Base learning rate (default 1e-4: Lion wants 3-10x less than AdamW). */
  lr?: number;
  schedule?: Schedule;
  /** Override the manifest's β1, β2, weight decay. */
  /** Override the manifest's hyperparameters (keys: beta1, beta2, weightDecay, eps, momentum). */
  hyperparameters?: Record<string, number | undefined>;
  /** Split each step's batch into this many micro-batches and accumulate their gradients. */
  gradientAccumulation?: number;
  /** Steps per ONNX run for stepMany/train (an ONNX Loop keeps the state in ORT). Default 8. */
  stepsPerRun?: number;
}

export interface StepInfo {
  /** Steps completed, including this one. */
  step: number;
  loss: number;
  lr: number;
  /** True when a gradient held NaN or ±Inf and the update was skipped (parameters unchanged). */
  skipped?: boolean;
}

export interface EvalResult {
  loss: number;
  /** For cross-entropy models: fraction of positions whose argmax equals the target. */
  accuracy?: number;
  count: number;
}

export class TrainingSession {
  readonly manifest: Manifest;
  readonly artifacts: Artifacts;
  baseLr: number;
  schedule: Schedule;
  hyperparameters: Hyperparameters;
  readonly optimizer: Optimizer;
  gradientAccumulation: number;
  stepsPerRun: number;
  private stepsDone = 0;
  /** Steps whose update was skipped for non-finite gradients. */
  skippedSteps = 0;
  private readonly exec: ExecutionOptions;
  private readonly stepSession: ort.InferenceSession;
  private evalSession: ort.InferenceSession | null = null;
  private gradSession: ort.InferenceSession | null = null;
  private applySession: ort.InferenceSession | null = null;
  private loopSession: ort.InferenceSession | null = null;
  /** Parameters and momenta by their step-graph input names. */
  private readonly state = new Map<string, ort.Tensor>();
  /** Gradient accumulation: running row-weighted sums, and rows so far. */
  private accumulated: Map<string, Float32Array | Float64Array> | null = null;
  private accumulatedRows = 0;
  private accumulatedLoss = 0;
  private disposed = false;

  private constructor(artifacts: Artifacts, stepSession: ort.InferenceSession, state: Map<string, Tensor>, opts: TrainingSessionOptions) {
    this.artifacts = artifacts;
    this.manifest = artifacts.manifest;
    this.stepSession = stepSession;
    this.exec = { executionProvider: opts.executionProvider, deviceId: opts.deviceId, threads: opts.threads };
    const o = this.manifest.optimizer;
    this.optimizer = optimizerByName(o.name);
    this.hyperparameters = resolveHyperparameters(this.optimizer, o.hyperparameters, opts.hyperparameters);
    this.baseLr = opts.lr ?? 1e-4;
    if (!(this.baseLr >= 0) || !Number.isFinite(this.baseLr)) throw new UsageError(`--lr must be a finite number >= 0, got ${opts.lr}`);
    this.schedule = opts.schedule ?? { kind: 'constant' };
    this.gradientAccumulation = opts.gradientAccumulation ?? 1;
    this.stepsPerRun = opts.stepsPerRun ?? 8;
    if (!Number.isInteger(this.stepsPerRun) || this.stepsPerRun < 1) throw new UsageError(`steps per run must be a whole number >= 1, got ${opts.stepsPerRun}`);
    if (!Number.isInteger(this.gradientAccumulation) || this.gradientAccumulation < 1)
      throw new UsageError(`gradient accumulation must be a whole number >= 1, got ${opts.gradientAccumulation}`);
    this.setState(state, artifacts.path(this.manifest.state));
    // onnxruntime-node silently ignores feeds that are not graph inputs: check the names once.
    const inputs = new Set(stepSession.inputNames);
    for (const i of this.manifest.inputs)
      if (!inputs.has(i.name)) throw new DataError(`${artifacts.path(this.manifest.graphs.step)} has no input '${i.name}' although the manifest lists it; rebuild the artifacts directory`);
    for (const name of inputs)
      if (!this.manifest.inputs.some((i) => i.name === name)) throw new DataError(`the step graph has an input '${name}' the manifest does not list; rebuild the artifacts directory`);
    // And every output a step reads must be one the graph computes (an edited manifest may name others).
    const outputs = new Set(stepSession.outputNames);
    const read = [...this.manifest.outputs.map((o) => o.name), this.manifest.loss?.name, ...this.manifest.parameters.flatMap((p) => [p.output, ...(p.state ?? []).map((st) => st.output)])];
    for (const name of read)
      if (name !== undefined && !outputs.has(name)) throw new DataError(`${artifacts.path(this.manifest.graphs.step)} has no output '${String(name)}' although the manifest names it; rebuild the artifacts directory`);
  }

  /** Opens an artifacts directory written by `build` or `rewrite`. */
  static async create(dir: string, opts: TrainingSessionOptions = {}): Promise<TrainingSession> {
    const artifacts = openArtifacts(dir);
    const state = readInitialState(artifacts);
    const session = await createSession(artifacts.path(artifacts.manifest.graphs.step), opts);
    return new TrainingSession(artifacts, session, state.tensors, opts);
  }

  /** Steps completed. */
  get stepCount(): number {
    return this.stepsDone;
  }

  /** Learning rate the next step will use. */
  get currentLr(): number {
    return learningRate(this.schedule, this.baseLr, this.stepsDone);
  }

  get parameterNames(): string[] {
    return this.manifest.parameters.map((p) => p.name);
  }

  private setState(tensors: Map<string, Tensor>, source: string): void {
    checkStateTensors(this.manifest, tensors, source, { state: true });
    for (const i of this.manifest.inputs) if (i.role === 'param' || i.role === 'state') this.state.set(i.name, toOrt(tensors.get(i.name)!));
  }

  /**
   * Hyperparameter feeds for `k` steps starting after the steps done: per-step keys (lr from
   * the schedule, AdamW's 1-based step) as scalars for k = 1 on the step graph, or [k] vectors
   * for the loop graph; the rest as scalars.
   */
  private hyperFeeds(k: number, vector: boolean): { feeds: Record<string, ort.Tensor>; lrs: Float64Array } {
    const feeds: Record<string, ort.Tensor> = {};
    const lrs = new Float64Array(k);
    for (let i = 0; i < k; i++) lrs[i] = learningRate(this.schedule, this.baseLr, this.stepsDone + i);
    for (const [key, input] of Object.entries(this.manifest.hyperparameterInputs)) {
      let values: Float64Array;
      if (key === 'lr') values = lrs;
      else if (key === 'step') values = Float64Array.from({ length: k }, (_, i) => this.stepsDone + i + 1);
      else {
        const v = this.hyperparameters[key];
        if (v === undefined) throw new DataError(`no value for hyperparameter '${key}' of ${this.optimizer.name}; the manifest is inconsistent`);
        feeds[input] = scalarF64(v);
        continue;
      }
      feeds[input] = vector ? new ort.Tensor('float64', values, [k]) : scalarF64(values[0]);
    }
    return { feeds, lrs };
  }

  private stateFeeds(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.state);
  }

  /** The parameters alone (the gradient and eval graphs take no optimizer state). */
  private paramFeeds(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.manifest.parameters.map((p) => [p.name, this.state.get(p.name)!]));
  }

  /** Takes the updated state; returns whether the update was skipped (non-finite gradients). */
  private takeState(out: ort.InferenceSession.ReturnType): boolean {
    return this.takeStates(out, 1)[0];
  }

  /** Takes the state after `k` steps (one run of the step or loop graph); per-step skip flags. */
  private takeStates(out: ort.InferenceSession.ReturnType, k: number): boolean[] {
    const flag = this.manifest.outputs.find((o) => o.role === 'nonfinite');
    const flags = flag ? Array.from(out[flag.name].data as Uint8Array, Boolean) : new Array<boolean>(k).fill(false);
    const skipped = flags.some(Boolean);
    if (skipped && this.manifest.optimizer.nonFinite === 'error')
      throw new DataError(`a gradient holds NaN or Inf at step ${this.stepsDone + 1}; the parameters were left unchanged (built with --nonfinite error; lower the learning rate or check the data)`);
    for (const p of this.manifest.parameters) {
      if (!p.output) continue;
      const np = out[p.output];
      if (np.dims.length !== p.shape.length || np.dims.some((d, i) => d !== p.shape[i]))
        throw new DataError(`the update produced '${p.output}' with shape [${np.dims.join(', ')}] for parameter '${p.name}' [${p.shape.join(', ')}]; its gradient has the wrong shape`);
      this.state.set(p.name, np);
      for (const st of p.state ?? []) this.state.set(st.name, out[st.output]);
    }
    this.skippedSteps += flags.filter(Boolean).length;
    return flags;
  }

  private lossOf(out: ort.InferenceSession.ReturnType): number {
    const name = this.manifest.loss?.name;
    return name ? Number((out[name].data as TypedArray)[0]) : Number.NaN;
  }

  /** Checks a batch against the graph's data inputs and returns the feeds. */
  checkBatch(batch: Batch): Record<string, ort.Tensor> {
    return toFeeds(batch, this.manifest.inputs, this.manifest.dataInputs);
  }

  /** One optimizer step on `batch`; with gradient accumulation the batch is split in micro-batches. */
  async step(batch: Batch): Promise<StepInfo> {
    this.checkOpen();
    const feeds = this.checkBatch(batch);
    if (this.gradientAccumulation > 1) {
      const rows = batchRows(feeds);
      const k = this.gradientAccumulation;
      if (rows < k) throw new DataError(`a batch of ${rows} rows cannot be split into ${k} micro-batches`);
      for (let i = 0; i < k; i++) await this.accumulateFeeds(sliceRows(feeds, Math.floor((i * rows) / k), Math.floor(((i + 1) * rows) / k)));
      return this.applyAccumulated();
    }
    const { feeds: hyper, lrs } = this.hyperFeeds(1, false);
    const out = await this.stepSession.run({ ...feeds, ...this.stateFeeds(), ...hyper });
    const skipped = this.takeState(out);
    this.stepsDone++;
    return { step: this.stepsDone, loss: this.lossOf(out), lr: lrs[0], ...(skipped ? { skipped } : {}) };
  }

  /**
   * Runs `k` steps in one ONNX Loop (loop.onnx): `stacked` holds k batches stacked on a new
   * leading axis ([k, batch, ...] per data input). Numerically identical to k calls of step(),
   * but parameters and momenta cross into JS once instead of k times. Falls back to single
   * steps where the loop does not apply (gradient accumulation, --nonfinite error).
   */
  async stepStacked(stacked: Batch, k: number): Promise<StepInfo[]> {
    this.checkOpen();
    if (!Number.isInteger(k) || k < 1) throw new UsageError(`steps per run must be a whole number >= 1, got ${k}`);
    const feeds = this.checkStacked(stacked, k);
    if (k === 1 || !this.loopApplies()) {
      const infos: StepInfo[] = [];
      for (let i = 0; i < k; i++) infos.push(await this.step(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, unstack(t, i)]))));
      return infos;
    }
    this.loopSession ??= await createSession(this.artifacts.path(this.manifest.graphs.loop!), this.exec);
    const { feeds: hyper, lrs } = this.hyperFeeds(k, true);
    const out = await this.loopSession.run({ ...feeds, ...this.stateFeeds(), ...hyper });
    const flags = this.takeStates(out, k);
    const lossName = this.manifest.loss?.name;
    const losses = lossName ? (out[lossName].data as TypedArray) : null;
    const infos: StepInfo[] = [];
    for (let i = 0; i < k; i++) {
      this.stepsDone++;
      infos.push({ step: this.stepsDone, loss: losses ? Number(losses[i]) : Number.NaN, lr: lrs[i], ...(flags[i] ? { skipped: true } : {}) });
    }
    return infos;
  }

  /** Runs one step per batch, `stepsPerRun` of them per ONNX run; see stepStacked. */
  async stepMany(batches: Batch[]): Promise<StepInfo[]> {
    const infos: StepInfo[] = [];
    for (let start = 0; start < batches.length; start += this.stepsPerRun) {
      const chunk = batches.slice(start, start + this.stepsPerRun);
      infos.push(...(await this.stepStacked(stackBatches(chunk.map((b) => this.checkBatch(b))), chunk.length)));
    }
    return infos;
  }

  private loopApplies(): boolean {
    return !!this.manifest.graphs.loop && this.gradientAccumulation === 1 && this.manifest.optimizer.nonFinite !== 'error';
  }

  /** Checks stacked feeds: leading axis k, and each step's slice as checkBatch would. */
  private checkStacked(stacked: Batch, k: number): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    const first: Batch = {};
    for (const [name, t] of Object.entries(stacked)) {
      const tensor = t instanceof ort.Tensor ? t : new ort.Tensor(typeOfArray(t.data as TypedArray) as 'float32', t.data as Float32Array, [...t.dims]);
      if (tensor.dims[0] !== k) throw new DataError(`stacked data input '${name}' must have ${k} steps on its first axis, got shape [${tensor.dims.join(', ')}]`);
      out[name] = tensor;
      first[name] = unstack(tensor, 0);
    }
    this.checkBatch(first);
    return out;
  }

  /**
   * Adds one micro-batch's gradients to the running sum (weighted by its rows, so micro-batches
   * of any sizes average to the gradient of their union under a mean loss). Returns its loss.
   */
  async accumulate(microBatch: Batch): Promise<number> {
    this.checkOpen();
    return this.accumulateFeeds(this.checkBatch(microBatch));
  }

  private async accumulateFeeds(feeds: Record<string, ort.Tensor>): Promise<number> {
    if (!this.manifest.graphs.grad || !this.manifest.graphs.apply)
      throw new UsageError('this artifacts directory has no gradient-accumulation graphs (grad.onnx, apply.onnx); rebuild it with this version of lion-onnx');
    this.gradSession ??= await createSession(this.artifacts.path(this.manifest.graphs.grad), this.exec);
    const out = await this.gradSession.run({ ...feeds, ...this.paramFeeds() });
    const rows = batchRows(feeds);
    this.accumulated ??= new Map();
    for (const p of this.manifest.parameters) {
      if (!p.output) continue;
      const g = out[p.grad].data as Float32Array | Float64Array;
      let acc = this.accumulated.get(p.grad);
      if (!acc) this.accumulated.set(p.grad, (acc = g instanceof Float64Array ? new Float64Array(g.length) : new Float32Array(g.length)));
      for (let i = 0; i < g.length; i++) acc[i] += rows * g[i];
    }
    this.accumulatedRows += rows;
    const loss = this.lossOf(out);
    this.accumulatedLoss += rows * loss;
    return loss;
  }

  /** Applies the averaged accumulated gradients as one optimizer step. */
  async applyAccumulated(): Promise<StepInfo> {
    this.checkOpen();
    if (!this.accumulated || this.accumulatedRows === 0) throw new UsageError('no accumulated gradients: call accumulate(microBatch) first');
    this.applySession ??= await createSession(this.artifacts.path(this.manifest.graphs.apply!), this.exec);
    const grads: Record<string, ort.Tensor> = {};
    for (const p of this.manifest.parameters) {
      if (!p.output) continue;
      const acc = this.accumulated.get(p.grad)!;
      for (let i = 0; i < acc.length; i++) acc[i] /= this.accumulatedRows;
      grads[p.grad] = new ort.Tensor(acc instanceof Float64Array ? 'float64' : 'float32', acc, p.shape);
    }
    const { feeds: hyper, lrs } = this.hyperFeeds(1, false);
    const lr = lrs[0];
    const state = Object.fromEntries(this.manifest.inputs.filter((i) => i.role === 'param' || i.role === 'state').filter((i) => this.applySession!.inputNames.includes(i.name)).map((i) => [i.name, this.state.get(i.name)!]));
    const out = await this.applySession.run({ ...grads, ...state, ...hyper });
    const skipped = this.takeState(out);
    const loss = this.accumulatedLoss / this.accumulatedRows;
    this.accumulated = null;
    this.accumulatedRows = 0;
    this.accumulatedLoss = 0;
    this.stepsDone++;
    return { step: this.stepsDone, loss, lr, ...(skipped ? { skipped } : {}) };
  }

  /** Loss (and accuracy for cross-entropy) over batches, without updating anything. */
  async evaluate(batches: Iterable<Batch> | AsyncIterable<Batch>): Promise<EvalResult> {
    this.checkOpen();
    const evalFile = this.manifest.graphs.eval;
    if (!evalFile) throw new UsageError('this artifacts directory has no eval graph (made by `rewrite`); evaluate needs one from `lion-onnx build`');
    this.evalSession ??= await createSession(this.artifacts.path(evalFile), this.exec);
    const loss = this.manifest.loss;
    // An edited manifest may lack the loss or name outputs the eval graph does not have.
    if (!loss) throw new DataError(`${this.artifacts.path('manifest.json')} names an eval graph but no loss; rebuild the artifacts directory`);
    for (const name of [loss.name, loss.kind === 'cross-entropy' ? loss.modelOutput : undefined])
      if (name !== undefined && !this.evalSession.outputNames.includes(name))
        throw new DataError(`${this.artifacts.path(evalFile)} has no output '${String(name)}' for the manifest's loss; rebuild the artifacts directory`);
    if (loss.kind === 'cross-entropy' && loss.target !== undefined && !this.manifest.dataInputs.includes(loss.target))
      throw new DataError(`${this.artifacts.path('manifest.json')}: the loss target '${String(loss.target)}' is not a data input; rebuild the artifacts directory`);
    const params = this.paramFeeds();
    let lossSum = 0;
    let rowsSum = 0;
    let correct = 0;
    let positions = 0;
    for await (const batch of batches) {
      const feeds = this.checkBatch(batch);
      const rows = batchRows(feeds);
      const out = await this.evalSession.run({ ...feeds, ...params });
      lossSum += rows * Number((out[loss.name].data as TypedArray)[0]);
      rowsSum += rows;
      if (loss.kind === 'cross-entropy' && loss.modelOutput && loss.target) {
        const logits = out[loss.modelOutput];
        const classes = logits.dims[logits.dims.length - 1];
        const x = logits.data as Float32Array;
        const t = feeds[loss.target].data as BigInt64Array | Int32Array;
        for (let i = 0; i < t.length; i++) {
          let best = 0;
          for (let c = 1; c < classes; c++) if (x[i * classes + c] > x[i * classes + best]) best = c;
          if (best === Number(t[i])) correct++;
        }
        positions += t.length;
      }
    }
    if (rowsSum === 0) throw new DataError('evaluate() got no batches');
    const r: EvalResult = { loss: lossSum / rowsSum, count: rowsSum };
    if (positions) r.accuracy = correct / positions;
    return r;
  }

  /** Current value of a parameter (a copy). */
  getParameter(name: string): Tensor {
    const t = this.state.get(name);
    if (!t || !this.manifest.parameters.some((p) => p.name === name)) throw new UsageError(`no parameter named '${name}'; parameters are ${this.parameterNames.join(', ')}`);
    const r = fromOrt(name, t);
    return { ...r, data: (r.data as TypedArray).slice() };
  }

  /** Replaces a parameter's value (same shape and type). */
  setParameter(name: string, data: Float32Array | Float64Array): void {
    const p = this.manifest.parameters.find((x) => x.name === name);
    if (!p) throw new UsageError(`no parameter named '${name}'; parameters are ${this.parameterNames.join(', ')}`);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new DataError(`parameter '${name}' has ${n} values [${p.shape.join(', ')}], got ${data.length}`);
    const want = p.dtype === 'float64' ? Float64Array : Float32Array;
    if (!(data instanceof want)) throw new DataError(`parameter '${name}' is ${p.dtype}`);
    this.state.set(name, new ort.Tensor(p.dtype === 'float64' ? 'float64' : 'float32', data.slice(), p.shape));
  }

  /** Momentum of a parameter (a copy): the first optimizer state slot (Lion's m). */
  getMomentum(name: string): Tensor {
    return this.getState(name)[0];
  }

  /** All optimizer state of a parameter, one tensor per slot (copies); frozen parameters have none. */
  getState(name: string): Tensor[] {
    const p = this.manifest.parameters.find((x) => x.name === name);
    if (!p?.state) throw new UsageError(`parameter '${name}' has no optimizer state (unknown or frozen)`);
    return p.state.map((st) => {
      const r = fromOrt(st.name, this.state.get(st.name)!);
      return { ...r, data: (r.data as TypedArray).slice() };
    });
  }

  private stateTensors(): Tensor[] {
    return this.manifest.inputs.filter((i) => i.role === 'param' || i.role === 'state').map((i) => fromOrt(i.name, this.state.get(i.name)!));
  }

  /**
   * Writes a checkpoint into `dir` (atomically; see artifacts/checkpoint.ts), keeping the newest
   * `keep` of that folder, and returns its JSON path. `trainer` is stored verbatim, for what the
   * caller needs to continue exactly (data order); `run` names the training run.
   */
  saveCheckpoint(dir: string, trainer?: Record<string, unknown>, opts: { keep?: number; run?: string } = {}): string {
    this.checkOpen();
    if (this.accumulated) throw new UsageError('cannot checkpoint in the middle of gradient accumulation; call applyAccumulated() first');
    mkdirSync(dir, { recursive: true });
    return writeCheckpoint(
      dir,
      { step: this.stepsDone, build: this.manifest.build.id, ...(opts.run ? { run: opts.run } : {}), hyperparameters: this.hyperparameters, artifactsDir: this.artifacts.dir, trainer: { baseLr: this.baseLr, ...trainer } },
      this.stateTensors(),
      opts.keep ?? KEEP_CHECKPOINTS,
    );
  }

  /**
   * Restores parameters, momenta, step and hyperparameters; returns the trainer data saved with
   * it. The checkpoint must come from this build (its `build` is the manifest's id): the
   * directory may have moved, but another program's weights are refused even when they fit.
   */
  loadCheckpoint(path: string): Record<string, unknown> | undefined {
    this.checkOpen();
    const c = readCheckpoint(path);
    if (c.info.build !== this.manifest.build.id)
      throw new DataError(`${c.path} belongs to another build (${c.info.build.slice(0, 12)}…) than ${this.artifacts.dir} (${this.manifest.build.id.slice(0, 12)}…); resume or export it with the artifacts directory it was trained in`);
    this.setState(c.tensors, c.path);
    this.stepsDone = c.info.step;
    this.hyperparameters = resolveHyperparameters(this.optimizer, c.info.hyperparameters);
    return c.info.trainer;
  }

  /** Writes the inference model with the current weights (no optimizer state or training inputs). */
  exportModel(path: string, opts: ExportOptions = {}): void {
    this.checkOpen();
    writeExport(this.artifacts, new Map(this.manifest.parameters.map((p) => [p.name, this.getParameter(p.name)])), path, { from: { step: this.stepsDone }, ...opts });
  }

  private checkOpen(): void {
    if (this.disposed) throw new UsageError('this TrainingSession was disposed');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of [this.stepSession, this.loopSession, this.evalSession, this.gradSession, this.applySession]) await s?.release();
  }
}

/** Step i of a stacked tensor (a view). */
function unstack(t: ort.Tensor, i: number): ort.Tensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return new ort.Tensor(t.type as 'float32', (t.data as Float32Array).subarray(i * per, (i + 1) * per), t.dims.slice(1));
}

/** Copies batches (same shapes) into one stacked tensor per input. */
function stackBatches(feeds: Record<string, ort.Tensor>[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(feeds[0])) {
    const parts = feeds.map((f) => f[name]);
    const first = parts[0];
    if (parts.some((p) => p.dims.join() !== first.dims.join())) throw new DataError(`batches stacked into one run must have equal shapes; '${name}' differs`);
    const per = (first.data as TypedArray).length;
    const data = new (first.data.constructor as new (n: number) => TypedArray)(per * parts.length);
    parts.forEach((p, i) => (data as Float32Array).set(p.data as Float32Array, i * per));
    out[name] = new ort.Tensor(first.type as 'float32', data as Float32Array, [parts.length, ...first.dims]);
  }
  return out;
}
