/**
 * Execution providers: CPU (default) or CUDA. Asking for CUDA without its provider libraries
 * fails with what to install; there is no silent fallback to CPU.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphError, ModelFormatError, RuntimeSetupError, UsageError } from '../errors.js';
import { loadModel, loadModelFromBytes, modelToBytes } from '../ir/model-io.js';
import { allGraphs, type Model } from '../ir/graph.js';
import { checkNodes } from '../ir/node-check.js';

export type ExecutionProviderName = 'cpu' | 'cuda';

export interface ExecutionOptions {
  executionProvider?: ExecutionProviderName;
  /** CUDA device. */
  deviceId?: number;
  /**
   * Intra-op threads. Default: one per core the process may use (os.availableParallelism()),
   * set explicitly: left to onnxruntime, its own choice (with its thread pinning) trained the
   * bundled CNN at half the speed on a 2-core machine (60 vs 120 steps/s, 1 thread 75).
   */
  threads?: number;
}

export const CUDA_INSTALL_HINT =
  'the CUDA execution provider is not installed: onnxruntime-node ships CPU binaries only here. On a machine with an NVIDIA GPU, CUDA 12 and cuDNN 9, run `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` in the lion-onnx folder (onnxruntime-node-install=cuda12), or use --ep cpu';

export function sessionOptions(opts: ExecutionOptions): ort.InferenceSession.SessionOptions {
  const ep = opts.executionProvider ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new UsageError(`execution provider '${ep}' is not one of cpu, cuda`);
  const so: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    // ORT's own log lines would break the one-line error contract; errors reach us as exceptions.
    logSeverityLevel: 4,
    executionProviders: ep === 'cuda' ? [{ name: 'cuda', deviceId: opts.deviceId ?? 0 }] : ['cpu'],
  };
  const cores = availableParallelism();
  const threads = opts.threads ?? cores;
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a whole number >= 1, got ${opts.threads}`);
  // Far more threads than cores only thrashes; absurd counts make onnxruntime fail to allocate.
  const most = Math.max(16, 4 * cores);
  if (threads > most) throw new UsageError(`--threads ${threads} is far beyond this machine's ${cores} cores; use at most ${most} (default: one per core)`);
  so.intraOpNumThreads = threads;
  so.interOpNumThreads = 1;
  return so;
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed. Checked before asking for the
 * provider, because a failed attempt also prints onnxruntime's own multi-line log to stderr.
 */
export function cudaProviderInstalled(): boolean {
  try {
    const root = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const bin = join(root, 'bin');
    const napi = readdirSync(bin).filter((d) => d.startsWith('napi-'));
    return napi.some((d) => existsSync(join(bin, d, process.platform, process.arch, 'libonnxruntime_providers_cuda.so')));
  } catch {
    return false;
  }
}

/**
 * The graph with these inputs declared at exactly these shapes (runtime/specialized-sessions.ts):
 * onnxruntime's own optimizer then folds the shape plumbing that depends on them (Shape,
 * Gather, Concat, Equal, the dynamic unbroadcasts…), which it cannot while a dim is symbolic.
 */
function specialize(model: Model, shapes: Record<string, readonly number[]>): Uint8Array {
  for (const i of model.graph.inputs) {
    const s = shapes[i.name];
    const t = i.type?.tensor_type;
    if (!s || !t) continue;
    t.shape = { dim: s.map((d) => ({ dim_value: d })) };
  }
  return modelToBytes(model);
}

/**
 * Creates a session, turning a missing CUDA provider into a RuntimeSetupError. The graph is read
 * and checked by lion-onnx first: onnxruntime aborts the whole process on some malformed graphs
 * (a Mul with one input, a tensor whose data does not match its dims; found by fuzzing, see
 * onnx/node-check.ts). What onnxruntime still refuses, at load or when running, becomes one
 * typed line instead of its multi-line native message.
 */
export async function createSession(model: string | Uint8Array, opts: ExecutionOptions, inputShapes?: Record<string, readonly number[]>): Promise<ort.InferenceSession> {
  const so = sessionOptions(opts);
  if (opts.executionProvider === 'cuda' && !cudaProviderInstalled()) throw new RuntimeSetupError(CUDA_INSTALL_HINT);
  const source = typeof model === 'string' ? model : 'the model';
  const graph = typeof model === 'string' ? loadModel(model) : loadModelFromBytes(model, { source });
  checkNodes(graph, source);
  const trimmed = withoutTrailingEmptyInputs(graph);
  const input = inputShapes ? specialize(graph, inputShapes) : (trimmed ?? model);
  let session: ort.InferenceSession;
  try {
    session = typeof input === 'string' ? await ort.InferenceSession.create(input, so) : await ort.InferenceSession.create(input, so);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (opts.executionProvider === 'cuda' && /cuda|providers_shared|shared library/i.test(msg)) throw new RuntimeSetupError(CUDA_INSTALL_HINT);
    throw new ModelFormatError(`${source}: onnxruntime cannot load it: ${ortMessage(msg)}`);
  }
  const run = session.run.bind(session);
  session.run = (async (...args: Parameters<typeof run>) => {
    try {
      return await run(...args);
    } catch (e) {
      throw new GraphError(`${source}: onnxruntime failed running it: ${ortMessage(e instanceof Error ? e.message : String(e))}; the graph and the data fed to it do not fit`);
    }
  }) as typeof session.run;
  return session;
}

/**
 * The model's bytes with trailing '' inputs dropped (they mean the same as no input), or null
 * when there are none. onnxruntime 1.30 segfaults optimizing a LayerNormalization whose omitted
 * bias is written as '' (found by fuzzing). A model that cannot be re-encoded here (external
 * data, fields from a newer ONNX) goes to onnxruntime as it is.
 */
function withoutTrailingEmptyInputs(model: Model): Uint8Array | null {
  let changed = false;
  for (const g of allGraphs(model.graph))
    for (const n of g.nodes) {
      let k = n.inputs.length;
      while (k > 0 && n.inputs[k - 1] === '') k--;
      if (k < n.inputs.length) {
        n.inputs = n.inputs.slice(0, k);
        changed = true;
      }
    }
  if (!changed) return null;
  try {
    return modelToBytes(model);
  } catch {
    return null;
  }
}

/** onnxruntime's message on one line, without the "Load model from ... failed:" it repeats. */
function ortMessage(msg: string): string {
  const line = msg.replace(/^Load model from .*? failed:\s*/s, '').replace(/\s*\n\s*/g, ' ').trim();
  return line.length > 600 ? `${line.slice(0, 600)}…` : line;
}
