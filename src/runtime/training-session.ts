/**
 * TrainingSession: runs a training program (an artifacts directory) on onnxruntime-node — the
 * public face over the jobs it composes: the state (session-state.ts), the hyperparameter feeds
 * (hyper-feeds.ts), one step or K steps in one ONNX Loop (here), gradient accumulation
 * (accumulation.ts), evaluation (evaluation.ts), checkpoints (artifacts/checkpoint.ts) and export
 * (export-model.ts). Hyperparameters and the learning rate are graph inputs: schedules never
 * rebuild a graph.
 */
import { mkdirSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { DataError, UsageError } from '../errors.js';
import { openArtifacts, readInitialState, type Artifacts } from '../artifacts/read.js';
import type { Manifest } from '../artifacts/manifest.js';
import { KEEP_CHECKPOINTS, readCheckpoint, writeCheckpoint } from '../artifacts/checkpoint.js';
import type { TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import { optimizerByName, resolveHyperparameters } from '../optim/registry.js';
import type { Hyperparameters, Optimizer } from '../optim/types.js';
import { GradientAccumulator } from './accumulation.js';
import { batchRows, sliceRows, toFeeds, type Batch } from './batch.js';
import { checkEvalGraph, evaluateBatches, type EvalResult } from './evaluation.js';
import { createSession, type ExecutionOptions } from './execution-provider.js';
import { SpecializedSessions } from './specialized-sessions.js';
import { writeExport, type ExportOptions } from './export-model.js';
import { hyperparameterFeeds } from './hyper-feeds.js';
import { learningRate, type Schedule } from './schedule.js';
import { SessionState } from './session-state.js';
import { checkStacked, stackBatches, unstack } from './stacked.js';

export type { EvalResult } from './evaluation.js';

export interface TrainingSessionOptions extends ExecutionOptions {
  /** Base learning rate (default 1e-4: Lion wants 3-10x less than AdamW). */
  lr?: number;
  schedule?: Schedule;
  /** Override the manifest's hyperparameters (keys as the optimizer declares them: beta1, beta2, weightDecay, eps, momentum). */
  hyperparameters?: Record<string, number | undefined>;
  /** Split each step's batch into this many micro-batches and accumulate their gradients. */
  gradientAccumulation?: number;
  /** Steps per ONNX run for stepMany/train (an ONNX Loop keeps the state in ORT). Default 8. */
  stepsPerRun?: number;
  /**
   * Specialize the step and loop graphs to the shapes fed (default true): onnxruntime then folds
   * their shape plumbing (runtime/specialized-sessions.ts). False keeps the general graphs.
   */
  specialize?: boolean;
}

export interface StepInfo {
  /** Steps completed, including this one. */
  step: number;
  loss: number;
  lr: number;
  /** True when a gradient held NaN or ±Inf and the update was skipped (parameters unchanged). */
  skipped?: boolean;
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
  private readonly steps: SpecializedSessions;
  private readonly loops: SpecializedSessions | null;
  private evalSession: ort.InferenceSession | null = null;
  private readonly state: SessionState;
  private readonly accumulator: GradientAccumulator;
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
    this.state = new SessionState(this.manifest);
    this.state.load(state, artifacts.path(this.manifest.state));
    this.accumulator = new GradientAccumulator(artifacts, this.exec);
    this.checkStepGraph();
    const specialize = opts.specialize ?? true;
    const perStep = this.manifest.perStep.map((k) => this.manifest.hyperparameterInputs[k]);
    this.steps = new SpecializedSessions(artifacts.path(this.manifest.graphs.step), this.exec, this.manifest.dataInputs, specialize, stepSession);
    this.loops = this.manifest.graphs.loop ? new SpecializedSessions(artifacts.path(this.manifest.graphs.loop), this.exec, [...this.manifest.dataInputs, ...perStep], specialize) : null;
  }

  /** onnxruntime-node silently ignores feeds that are not graph inputs: the names are checked once. */
  private checkStepGraph(): void {
    const step = this.artifacts.path(this.manifest.graphs.step);
    const inputs = new Set(this.stepSession.inputNames);
    for (const i of this.manifest.inputs) if (!inputs.has(i.name)) throw new DataError(`${step} has no input '${i.name}' although the manifest lists it; rebuild the artifacts directory`);
    for (const name of inputs)
      if (!this.manifest.inputs.some((i) => i.name === name)) throw new DataError(`the step graph has an input '${name}' the manifest does not list; rebuild the artifacts directory`);
    // And every output a step reads must be one the graph computes (an edited manifest may name others).
    const outputs = new Set(this.stepSession.outputNames);
    const read = [...this.manifest.outputs.map((o) => o.name), this.manifest.loss?.name, ...this.manifest.parameters.flatMap((p) => [p.output, ...(p.state ?? []).map((st) => st.output)])];
    for (const name of read)
      if (name !== undefined && !outputs.has(name)) throw new DataError(`${step} has no output '${String(name)}' although the manifest names it; rebuild the artifacts directory`);
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

  private hyperFeeds(k: number, vector: boolean) {
    return hyperparameterFeeds(this, this.stepsDone, k, vector);
  }

  /** Takes the state after `k` steps; counts skipped steps; returns the per-step skip flags. */
  private take(out: ort.InferenceSession.ReturnType, k: number): boolean[] {
    const flags = this.state.take(out, k, this.stepsDone);
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
      for (let i = 0; i < k; i++) await this.accumulator.add(sliceRows(feeds, Math.floor((i * rows) / k), Math.floor(((i + 1) * rows) / k)), this.state);
      return this.applyAccumulated();
    }
    const { feeds: hyper, lrs } = this.hyperFeeds(1, false);
    const out = await (await this.steps.for(feeds)).run({ ...feeds, ...this.state.feeds(), ...hyper });
    const [skipped] = this.take(out, 1);
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
    const feeds = checkStacked(stacked, k, (b) => this.checkBatch(b));
    if (k === 1 || !this.loopApplies()) {
      const infos: StepInfo[] = [];
      for (let i = 0; i < k; i++) infos.push(await this.step(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, unstack(t, i)]))));
      return infos;
    }
    const { feeds: hyper, lrs } = this.hyperFeeds(k, true);
    const all = { ...feeds, ...this.state.feeds(), ...hyper };
    const out = await (await this.loops!.for(all)).run(all);
    // The loop applies every update (no guard inside: it would cost an If per step). A run that
    // met a non-finite gradient is dropped — the state is still the one fed in — and its steps
    // replayed through the guarded step graph, which skips (or, with --nonfinite error, stops
    // at) exactly the steps the guard would have.
    if (this.manifest.loopSkip === 'replay' && this.state.flags(out, k).some(Boolean)) {
      const infos: StepInfo[] = [];
      for (let i = 0; i < k; i++) infos.push(await this.step(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, unstack(t, i)]))));
      return infos;
    }
    const flags = this.take(out, k);
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
    // --nonfinite error needs the step where it happened: a guarded loop cannot tell it, a
    // replayed one can.
    return !!this.manifest.graphs.loop && this.gradientAccumulation === 1 && (this.manifest.optimizer.nonFinite !== 'error' || this.manifest.loopSkip === 'replay');
  }

  /**
   * Adds one micro-batch's gradients to the running sum (weighted by its rows, so micro-batches
   * of any sizes average to the gradient of their union under a mean loss). Returns its loss.
   */
  async accumulate(microBatch: Batch): Promise<number> {
    this.checkOpen();
    return this.accumulator.add(this.checkBatch(microBatch), this.state);
  }

  /** Applies the averaged accumulated gradients as one optimizer step. */
  async applyAccumulated(): Promise<StepInfo> {
    this.checkOpen();
    const { feeds: hyper, lrs } = this.hyperFeeds(1, false);
    const { out, loss } = await this.accumulator.apply(this.state, hyper);
    const [skipped] = this.take(out, 1);
    this.stepsDone++;
    return { step: this.stepsDone, loss, lr: lrs[0], ...(skipped ? { skipped } : {}) };
  }

  /** Loss (and accuracy for cross-entropy) over batches, without updating anything. */
  async evaluate(batches: Iterable<Batch> | AsyncIterable<Batch>): Promise<EvalResult> {
    this.checkOpen();
    const evalFile = this.manifest.graphs.eval;
    if (evalFile && !this.evalSession) {
      this.evalSession = await createSession(this.artifacts.path(evalFile), this.exec);
      checkEvalGraph(this.artifacts, this.evalSession);
    }
    return evaluateBatches(this.artifacts, this.evalSession, this.state.paramFeeds(), batches, (b) => this.checkBatch(b));
  }

  /** Current value of a parameter (a copy). */
  getParameter(name: string): Tensor {
    return this.state.parameter(name);
  }

  /** Replaces a parameter's value (same shape and type). */
  setParameter(name: string, data: Float32Array | Float64Array): void {
    this.state.setParameter(name, data);
  }

  /** All optimizer state of a parameter, one tensor per slot (copies; Lion: its momentum); frozen parameters have none. */
  getState(name: string): Tensor[] {
    return this.state.slots(name);
  }

  /**
   * Writes a checkpoint into `dir` (atomically; see artifacts/checkpoint.ts), keeping the newest
   * `keep` of that folder, and returns its JSON path. `trainer` is stored verbatim, for what the
   * caller needs to continue exactly (data order); `run` names the training run.
   */
  saveCheckpoint(dir: string, trainer?: Record<string, unknown>, opts: { keep?: number; run?: string } = {}): string {
    this.checkOpen();
    if (this.accumulator.pending) throw new UsageError('cannot checkpoint in the middle of gradient accumulation; call applyAccumulated() first');
    mkdirSync(dir, { recursive: true });
    return writeCheckpoint(
      dir,
      { step: this.stepsDone, build: this.manifest.build.id, ...(opts.run ? { run: opts.run } : {}), hyperparameters: this.hyperparameters, artifactsDir: this.artifacts.dir, trainer: { baseLr: this.baseLr, ...trainer } },
      this.state.all(),
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
    this.state.load(c.tensors, c.path);
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
    await this.steps.release();
    await this.loops?.release();
    await this.evalSession?.release();
    await this.accumulator.dispose();
  }
}
