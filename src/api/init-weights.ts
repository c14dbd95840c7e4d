/**
 * `rewrite --init FILE`: the initial weights of a training graph whose parameters are graph
 * inputs (ONNX Runtime keeps them in a checkpoint, not in the graph). The format is read off
 * the bytes, not the name:
 *
 * - ONNX Runtime's checkpoint: a FlatBuffer with identifier `ODTC` (trainable and frozen
 *   parameters), or the 2022 folder form `checkpoint.ckpt/` with `paramtrain_tensors.pbseq`
 *   (and `paramfrozen_tensors.pbseq`);
 * - safetensors (torch's `save_file`, lion-onnx's own state and exports);
 * - an ONNX model: its initializers.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, LionOnnxError } from '../errors.js';
import { decodeOrtCheckpoint, decodePbseq, isOrtCheckpoint } from '../onnx/ort-checkpoint.js';
import type { Tensor } from '../onnx/tensor.js';
import { decodeSafetensors } from '../artifacts/safetensors.js';
import { loadModel } from '../ir/model-io.js';
import { readRegularFile } from '../util/safe-fs.js';

export type InitFormat = 'onnxruntime checkpoint' | 'onnxruntime checkpoint (2022 .pbseq)' | 'safetensors' | 'onnx';

export interface InitWeights {
  file: string;
  format: InitFormat;
  tensors: Tensor[];
  /** Names the file marks frozen (ONNX Runtime's frozen_params). */
  frozen: string[];
}

const MAX_BYTES = 16 * 2 ** 30;

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n > 0n && 8n + n <= BigInt(bytes.length) && bytes[8] === 0x7b; // '{'
}

export function readInitWeights(file: string): InitWeights {
  const label = `--init ${file}`;
  if (existsSync(file) && statSync(file).isDirectory()) {
    const train = join(file, 'paramtrain_tensors.pbseq');
    if (!existsSync(train)) throw new DataError(`${label}: a folder, but not an ONNX Runtime checkpoint folder (no paramtrain_tensors.pbseq in it)`);
    const frozenFile = join(file, 'paramfrozen_tensors.pbseq');
    const trainable = decodePbseq(readRegularFile(train, { label, maxBytes: MAX_BYTES }), train);
    const frozen = existsSync(frozenFile) ? decodePbseq(readRegularFile(frozenFile, { label, maxBytes: MAX_BYTES }), frozenFile) : [];
    return { file, format: 'onnxruntime checkpoint (2022 .pbseq)', tensors: [...trainable, ...frozen], frozen: frozen.map((t) => t.name) };
  }
  const bytes = readRegularFile(file, { label, maxBytes: MAX_BYTES });
  if (isOrtCheckpoint(bytes)) {
    const ck = decodeOrtCheckpoint(bytes, label);
    return { file, format: 'onnxruntime checkpoint', tensors: [...ck.trainable, ...ck.frozen], frozen: ck.frozen.map((t) => t.name) };
  }
  if (file.endsWith('.pbseq')) return { file, format: 'onnxruntime checkpoint (2022 .pbseq)', tensors: decodePbseq(bytes, label), frozen: [] };
  if (looksLikeSafetensors(bytes)) return { file, format: 'safetensors', tensors: [...decodeSafetensors(bytes, label).tensors.values()], frozen: [] };
  try {
    // Loaded from its path, so external data next to it is found.
    const model = loadModel(file);
    return { file, format: 'onnx', tensors: model.graph.initializers, frozen: [] };
  } catch (e) {
    if (!(e instanceof LionOnnxError)) throw e;
    throw new DataError(`${label}: not a weights file lion-onnx reads: an ONNX Runtime checkpoint, a .safetensors file or an ONNX model with initializers`);
  }
}
