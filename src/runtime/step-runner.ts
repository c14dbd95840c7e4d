/**
 * StepRunner: loads an artifacts directory into onnxruntime-node and runs Lion steps, feeding
 * each step's updated parameters and momenta back as the next step's inputs. State stays as
 * the ORT tensors the previous run returned, so nothing is copied in JS between steps.
 */
import * as ort from 'onnxruntime-node';
import { DataError, UsageError } from '../errors.js';
import { openArtifacts, readInitialState, type Artifacts } from '../artifacts/read.js';
import type { Manifest } from '../artifacts/manifest.js';
import type { LionHyperparameters } from '../optim/hyperparameters.js';
import type { Tensor } from '../onnx/tensor.js';
import { fromOrt, scalarF64, toOrt } from './ort-tensor.js';

export interface StepRunnerOptions {
  /** Intra-op threads (default: onnxruntime's choice). */
  threads?: number;
}

export interface StepResult {
  loss?: number;
}

export class StepRunner {
  readonly manifest: Manifest;
  readonly artifacts: Artifacts;
  /** Hyperparameters fed each step; start from the manifest's, may be changed between steps. */
  hyperparameters: LionHyperparameters;
  /** Steps taken. */
  stepCount = 0;
  private readonly session: ort.InferenceSession;
  /** Current params and momenta by their step-graph input names. */
  private readonly state = new Map<string, ort.Tensor>();
  private readonly inputNames: Set<string>;

  private constructor(artifacts: Artifacts, session: ort.InferenceSession, state: Map<string, Tensor>) {
    this.artifacts = artifacts;
    this.manifest = artifacts.manifest;
    this.session = session;
    const o = this.manifest.optimizer;
    this.hyperparameters = { beta1: o.beta1, beta2: o.beta2, weightDecay: o.weightDecay };
    this.inputNames = new Set(session.inputNames);
    for (const i of this.manifest.inputs) {
      if (i.role !== 'param' && i.role !== 'momentum') continue;
      const t = state.get(i.name);
      if (!t) throw new DataError(`${artifacts.path(this.manifest.state)}: no tensor '${i.name}' (${i.role}${i.param && i.role === 'momentum' ? ` of '${i.param}'` : ''})`);
      this.state.set(i.name, toOrt(t));
    }
  }

  static async open(dir: string, opts: StepRunnerOptions = {}): Promise<StepRunner> {
    const artifacts = openArtifacts(dir);
    const state = readInitialState(artifacts);
    const so: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
    if (opts.threads) so.intraOpNumThreads = opts.threads;
    const session = await ort.InferenceSession.create(artifacts.path(artifacts.manifest.graphs.step), so);
    return new StepRunner(artifacts, session, state.tensors);
  }

  /** Runs one step on `batch` (data input name -> tensor) with learning rate `lr`. */
  async step(batch: Record<string, ort.Tensor>, lr: number): Promise<StepResult> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of this.manifest.dataInputs) {
      const t = batch[name];
      if (!t) throw new UsageError(`missing data input '${name}'; the step graph needs ${this.manifest.dataInputs.join(', ')}`);
      feeds[name] = t;
    }
    for (const name of Object.keys(batch))
      if (!this.manifest.dataInputs.includes(name))
        throw new UsageError(`'${name}' is not a data input of the step graph; its data inputs are ${this.manifest.dataInputs.join(', ')}`);
    for (const [name, t] of this.state) feeds[name] = t;
    const h = this.manifest.hyperparameterInputs;
    feeds[h.lr] = scalarF64(lr);
    feeds[h.beta1] = scalarF64(this.hyperparameters.beta1);
    feeds[h.beta2] = scalarF64(this.hyperparameters.beta2);
    feeds[h.weightDecay] = scalarF64(this.hyperparameters.weightDecay);
    // onnxruntime-node silently ignores feeds that are not graph inputs: check every name.
    for (const name of Object.keys(feeds))
      if (!this.inputNames.has(name)) throw new DataError(`step graph has no input '${name}' although the manifest lists it; the artifacts directory is inconsistent`);
    const out = await this.session.run(feeds);
    for (const p of this.manifest.parameters) {
      if (!p.output) continue;
      const np = out[p.output];
      if (np.dims.length !== p.shape.length || np.dims.some((d, i) => d !== p.shape[i]))
        throw new DataError(`the step graph produced '${p.output}' with shape [${np.dims.join(', ')}] for parameter '${p.name}' [${p.shape.join(', ')}]; its gradient has the wrong shape`);
      this.state.set(p.name, np);
      this.state.set(p.momentum!, out[p.momentumOut!]);
    }
    this.stepCount++;
    const lossName = this.manifest.loss?.name;
    return lossName ? { loss: Number((out[lossName].data as Float32Array)[0]) } : {};
  }

  /** Current value of a parameter or momentum (by its input name). */
  tensor(name: string): Tensor {
    const t = this.state.get(name);
    if (!t) throw new UsageError(`no parameter or momentum named '${name}'`);
    return fromOrt(name, t);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
