/**
 * Execution providers: CPU (default) or CUDA. Asking for CUDA without its provider libraries
 * fails with what to install; there is no silent fallback to CPU.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RuntimeSetupError, UsageError } from '../errors.js';

export type ExecutionProviderName = 'cpu' | 'cuda';

export interface ExecutionOptions {
  executionProvider?: ExecutionProviderName;
  /** CUDA device. */
  deviceId?: number;
  /** Intra-op threads (default: onnxruntime's choice, one per core). */
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
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new UsageError(`--threads must be a whole number >= 1, got ${opts.threads}`);
    so.intraOpNumThreads = opts.threads;
    so.interOpNumThreads = 1;
  }
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

/** Creates a session, turning a missing CUDA provider into a RuntimeSetupError. */
export async function createSession(model: string | Uint8Array, opts: ExecutionOptions): Promise<ort.InferenceSession> {
  const so = sessionOptions(opts);
  if (opts.executionProvider === 'cuda' && !cudaProviderInstalled()) throw new RuntimeSetupError(CUDA_INSTALL_HINT);
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, so) : await ort.InferenceSession.create(model, so);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (opts.executionProvider === 'cuda' && /cuda|providers_shared|shared library/i.test(msg)) throw new RuntimeSetupError(CUDA_INSTALL_HINT);
    throw e;
  }
}
