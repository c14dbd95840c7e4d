/**
 * Helpers shared by the bench runner (run.mjs) and its child processes (child.mjs).
 * Plain ESM over the compiled package in dist/ (built by `npm ci`), so no TypeScript runner is needed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataType, makeTensor, saveModel, writeNpy, Graph } from '../../dist/index.js';
import { prng } from '../../dist/data/dataset.js';
import { tensorType } from '../../dist/ir/value-type.js';
import { makeAttribute } from '../../dist/ir/attributes.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH = join(ROOT, 'bench');
export const TMP = join(BENCH, 'tmp');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return Number.NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export const MB = 1024 * 1024;

/** Bytes of a file, or of every file under a folder. */
export function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  throw new Error(`sizeOf: ${path} is a folder`);
}

/**
 * Random data for a model: `input` {name, dtype 'float32'|'int64', shape (per row), max (int64)},
 * `target` {name, shape (per row), classes}. Deterministic (mulberry32).
 */
export function makeData(spec, rows, seed = 1) {
  const r = prng(seed);
  const per = spec.input.shape.reduce((a, b) => a * b, 1);
  const tper = spec.target.shape.reduce((a, b) => a * b, 1);
  const x =
    spec.input.dtype === 'int64'
      ? makeTensor(spec.input.name, DataType.INT64, [rows, ...spec.input.shape], Array.from({ length: rows * per }, () => Math.floor(r() * spec.input.max)))
      : { name: spec.input.name, dataType: DataType.FLOAT, dims: [rows, ...spec.input.shape], data: Float32Array.from({ length: rows * per }, () => r() * 2 - 1) };
  const y = makeTensor(spec.target.name, DataType.INT64, [rows, ...spec.target.shape], Array.from({ length: rows * tper }, () => Math.floor(r() * spec.target.classes)));
  return new Map([
    [x.name, x],
    [y.name, y],
  ]);
}

/** Writes the arrays as .npy files in `dir`; returns name -> path. */
export function writeData(dir, arrays) {
  mkdirSync(dir, { recursive: true });
  const files = {};
  for (const [name, t] of arrays) {
    const path = join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`);
    writeNpy(path, t);
    files[name] = path;
  }
  return files;
}

/**
 * An MLP as torch.onnx.export writes nn.Linear layers (Gemm, weight [out, in], transB = 1) with
 * ReLU between: input `x` [batch, sizes[0]], output `logits`, parameters fc<i>.weight/bias,
 * uniform ±1/sqrt(fan_in) like torch's default init. Opset 13. Made here so the parts of the
 * bench that do not compare with PyTorch run without it.
 */
export function writeMlp(path, sizes, seed = 7) {
  const r = prng(seed);
  const g = new Graph();
  g.name = `mlp_${sizes.join('_')}`;
  g.inputs.push({ name: 'x', type: tensorType(DataType.FLOAT, ['batch', sizes[0]]) });
  let h = 'x';
  for (let i = 0; i + 1 < sizes.length; i++) {
    const [fin, fout] = [sizes[i], sizes[i + 1]];
    const bound = 1 / Math.sqrt(fin);
    const w = new Float32Array(fin * fout);
    for (let j = 0; j < w.length; j++) w[j] = (r() * 2 - 1) * bound;
    const b = new Float32Array(fout);
    for (let j = 0; j < b.length; j++) b[j] = (r() * 2 - 1) * bound;
    g.initializers.push({ name: `fc${i + 1}.weight`, dataType: DataType.FLOAT, dims: [fout, fin], data: w }, { name: `fc${i + 1}.bias`, dataType: DataType.FLOAT, dims: [fout], data: b });
    const last = i + 2 === sizes.length;
    const out = last ? 'logits' : `fc${i + 1}.out`;
    g.nodes.push({ opType: 'Gemm', inputs: [h, `fc${i + 1}.weight`, `fc${i + 1}.bias`], outputs: [out], attributes: [makeAttribute('transB', 1)], name: `fc${i + 1}` });
    h = out;
    if (!last) {
      g.nodes.push({ opType: 'Relu', inputs: [h], outputs: [`relu${i + 1}`], attributes: [], name: `relu${i + 1}` });
      h = `relu${i + 1}`;
    }
  }
  g.outputs.push({ name: 'logits', type: tensorType(DataType.FLOAT, ['batch', sizes[sizes.length - 1]]) });
  mkdirSync(dirname(path), { recursive: true });
  saveModel({ irVersion: 8, opsetImports: [{ domain: '', version: 13 }], producerName: 'lion-onnx bench', graph: g }, path, { externalData: 'none' });
  const params = sizes.slice(1).reduce((s, fout, i) => s + fout * sizes[i] + fout, 0);
  return { path, parameters: params };
}

/**
 * Runs `node [nodeArgs] child.mjs args...` and returns the JSON object its last stdout line holds.
 * Rejects with the child's stderr when it fails.
 */
export function runChild(args, { nodeArgs = [], env = {}, timeoutMs = 300_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'scripts', 'bench', 'child.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      const lines = err.trim().split('\n');
      const why = lines.find((l) => /Error\b/.test(l)) ?? lines[0] ?? '';
      if (code !== 0) return reject(new Error(`child ${args[0]} exited with ${code ?? signal}: ${why.trim()}`));
      try {
        resolvePromise(JSON.parse(last));
      } catch {
        reject(new Error(`child ${args[0]}: no JSON result (stdout: ${last.slice(0, 200)}; stderr: ${err.slice(-300)})`));
      }
    });
  });
}

export function ensureDir(d) {
  if (!existsSync(d)) mkdirSync(d, { recursive: true });
  return d;
}
