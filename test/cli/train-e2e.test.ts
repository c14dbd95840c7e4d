/**
 * build → train → export through the CLI, as a user runs it: the exported model must compute
 * exactly what the trained program computes (eval.onnx fed the checkpoint's parameters), carry
 * no training inputs or optimizer state, and `--resume` must continue with the very losses the
 * uninterrupted run had.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../../src/ir/model-io.js';
import type { TypedArray } from '../../src/onnx/data-types.js';
import { readNpy } from '../../src/data/npy.js';
import { readSafetensors } from '../../src/artifacts/safetensors.js';
import { readCheckpoint } from '../../src/artifacts/checkpoint.js';
import { REPO, runCli } from '../helpers/cli.js';
import { normals, rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const FIX = join(REPO, 'test/fixtures/torch/mlp');
const PARAMS = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'];
const root = tempDir('lion-onnx-e2e-');
const art = join(root, 'art');
const data = ['--data', `x=${join(FIX, 'x.npy')}`, '--data', `target=${join(FIX, 'target.npy')}`];
// Shuffle on (the default) with a seed, so resuming must restore the data order too.
const trainArgs = [...data, '--batch-size', '8', '--lr', '1e-3', '--seed', '7'];

interface LogLine {
  step: number;
  loss: number;
  lr: number;
  time: number;
}

function readLog(path: string): LogLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

function ok(args: string[]): string {
  const r = runCli(args, { cwd: root });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

function sameBits(a: TypedArray, b: TypedArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Minimal well-formedness: every tag closes in order, one root <svg>. */
function checkTagsBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) expect(stack.pop(), `</${name}> closes the wrong element`).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
}

describe('lion-onnx build → train → export', () => {
  it('exports a model that computes exactly the trained forward pass, and resumes bit-exactly', { timeout: 120_000 }, async () => {
    ok(['build', join(FIX, 'model.onnx'), '--loss', 'cross-entropy', '--out', art]);

    // Run A: 100 steps uninterrupted, checkpoints every 50.
    const logA = join(root, 'A.jsonl');
    ok(['train', art, ...trainArgs, '--steps', '100', '--log', logA, '--checkpoint-every', '50']);
    expect(readdirSync(join(art, 'checkpoints', 'run-0001')).filter((f) => f.endsWith('.json')).sort()).toEqual(['checkpoint-0000050.json', 'checkpoint-0000100.json']);
    const a = readLog(logA);
    expect(a.map((l) => l.step)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(a.every((l) => l.lr === 1e-3 && Number.isFinite(l.loss))).toBe(true);
    // It learned something: the last 10 steps' mean loss is well below the first 10's.
    const mean = (xs: LogLine[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
    expect(mean(a.slice(90))).toBeLessThan(0.5 * mean(a.slice(0, 10)));

    // Export from the artifacts directory: its newest checkpoint.
    const model = join(root, 'model.onnx');
    const weights = join(root, 'w.safetensors');
    const out = ok(['export', art, '-o', model, '--safetensors', weights]);
    expect(out).toContain('run-0001, step 100');

    const ckpt = readCheckpoint(join(art, 'checkpoints', 'run-0001', 'checkpoint-0000100.json'));
    expect(ckpt.info.step).toBe(100);
    const initial = readSafetensors(join(art, 'state.safetensors')).tensors;

    // The exported model: only the model's own input and output, the trained weights as its
    // initializers, nothing of the optimizer.
    const m = loadModel(model);
    const inits = new Set(m.graph.initializers.map((t) => t.name));
    expect(m.graph.inputs.map((i) => i.name).filter((n) => !inits.has(n))).toEqual(['x']);
    expect(m.graph.outputs.map((o) => o.name)).toEqual(['logits']);
    expect([...inits].sort()).toEqual([...PARAMS].sort());
    const names = [...m.graph.inputs.map((i) => i.name), ...m.graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs])];
    expect(names.filter((n) => /lion|_grad$|target|loss/.test(n))).toEqual([]);
    for (const p of PARAMS) {
      const w = m.graph.initializers.find((t) => t.name === p)!;
      expect(sameBits(w.data as TypedArray, ckpt.tensors.get(p)!.data as TypedArray), p).toBe(true);
      // Training moved it: the export is not the initial model.
      expect(sameBits(w.data as TypedArray, initial.get(p)!.data as TypedArray), p).toBe(false);
    }

    // The safetensors file holds exactly the parameters, with the trained values.
    const st = readSafetensors(weights).tensors;
    expect([...st.keys()].sort()).toEqual([...PARAMS].sort());
    for (const p of PARAMS) {
      expect(st.get(p)!.dims).toEqual(ckpt.tensors.get(p)!.dims);
      expect(sameBits(st.get(p)!.data as TypedArray, ckpt.tensors.get(p)!.data as TypedArray), p).toBe(true);
    }

    // Same outputs, bit for bit, as eval.onnx fed the checkpoint's parameters: on training rows
    // and on fresh random inputs, in two batch sizes.
    const exported = await ort.InferenceSession.create(model);
    const evalSession = await ort.InferenceSession.create(join(art, 'eval.onnx'));
    try {
      expect(exported.inputNames).toEqual(['x']);
      expect(exported.outputNames).toEqual(['logits']);
      const x = readNpy(join(FIX, 'x.npy'));
      const r = rng(11);
      const inputs: Float32Array[] = [(x.data as Float32Array).slice(0, 13 * 64), Float32Array.from(normals(r, 5 * 64))];
      for (const xs of inputs) {
        const rows = xs.length / 64;
        const X = new ort.Tensor('float32', xs, [rows, 64]);
        const got = (await exported.run({ x: X })).logits;
        const feeds: Record<string, ort.Tensor> = { x: X, target: new ort.Tensor('int64', new BigInt64Array(rows), [rows]) };
        for (const p of PARAMS) {
          const t = ckpt.tensors.get(p)!;
          feeds[p] = new ort.Tensor('float32', t.data as Float32Array, t.dims);
        }
        const want = (await evalSession.run(feeds)).logits;
        expect(got.dims).toEqual([rows, 10]);
        expect(sameBits(got.data as Float32Array, want.data as Float32Array)).toBe(true);
      }
    } finally {
      await exported.release();
      await evalSession.release();
    }

    // Run B: 50 steps, then --resume to 100 with the same log file.
    const logB = join(root, 'B.jsonl');
    const ckB = join(root, 'ckB');
    ok(['train', art, ...trainArgs, '--steps', '50', '--log', logB, '--checkpoint-dir', ckB]);
    expect(readLog(logB).map((l) => l.step)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // The 50-step run's state is run A's state at step 50.
    const a50 = readCheckpoint(join(art, 'checkpoints', 'run-0001', 'checkpoint-0000050.json'));
    const b50 = readCheckpoint(join(ckB, 'run-0001', 'checkpoint-0000050.json'));
    for (const [name, t] of a50.tensors) expect(sameBits(t.data as TypedArray, b50.tensors.get(name)!.data as TypedArray), name).toBe(true);

    ok(['train', art, ...trainArgs, '--steps', '100', '--log', logB, '--checkpoint-dir', ckB, '--resume']);
    const b = readLog(logB);
    expect(b.map((l) => l.step)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // Exactly the uninterrupted run's losses (JSON numbers round-trip doubles exactly).
    expect(b.slice(50).map((l) => l.loss)).toEqual(a.slice(50).map((l) => l.loss));
    expect(b.map((l) => [l.step, l.loss, l.lr])).toEqual(a.map((l) => [l.step, l.loss, l.lr]));
    const b100 = readCheckpoint(join(ckB, 'run-0001', 'checkpoint-0000100.json'));
    for (const [name, t] of ckpt.tensors) expect(sameBits(t.data as TypedArray, b100.tensors.get(name)!.data as TypedArray), name).toBe(true);

    // Both runs in one chart: a loss path and an lr path per run, in the run's colour.
    const svgPath = join(root, 'c.svg');
    ok(['plot', logA, logB, '-o', svgPath]);
    const svg = readFileSync(svgPath, 'utf8');
    expect(svg.startsWith('<!-- lion-onnx plot -->\n<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    checkTagsBalanced(svg);
    const strokes = [...svg.matchAll(/<path d="M[^"]+" [^>]*stroke="([^"]+)"/g)].map((p) => p[1]);
    expect(strokes).toHaveLength(4);
    const colours = [...new Set(strokes)];
    expect(colours).toHaveLength(2);
    for (const c of colours) expect(strokes.filter((s) => s === c)).toHaveLength(2);
    expect(svg).toContain('>A (final');
    expect(svg).toContain('>B (final');
    expect(existsSync(join(root, 'runs'))).toBe(false);
  });

  it('an .onnx target with --loss builds runs/<name>; --resume continues in it instead of rebuilding it', { timeout: 120_000 }, () => {
    const dir = join(root, 'onnx-target');
    const base = ['train', join(FIX, 'model.onnx'), '--loss', 'cross-entropy', '--out', dir, ...data, '--lr', '1e-3'];
    const args = [...base, '--batch-size', '8', '--seed', '7'];
    const first = runCli([...args, '--steps', '20', '--log', join(root, 'C.jsonl')], { cwd: root });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`built ${dir}`);
    // Rebuilding would replace the directory and its checkpoints: resume must not do that.
    const second = runCli([...args, '--steps', '40', '--log', join(root, 'C.jsonl'), '--resume'], { cwd: root });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('trained 40 steps');
    expect(readLog(join(root, 'C.jsonl')).map((l) => l.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(readdirSync(join(dir, 'checkpoints', 'run-0001')).filter((f) => f.endsWith('.json')).sort()).toEqual(['checkpoint-0000020.json', 'checkpoint-0000040.json']);

    // Resuming under other batching would continue with other rows (or index past the data):
    // refused before the log or the checkpoints are touched.
    const logBefore = readFileSync(join(root, 'C.jsonl'), 'utf8');
    for (const [flags, now] of [
      [['--batch-size', '16', '--seed', '7'], '--batch-size 16 --seed 7'],
      [['--batch-size', '8', '--seed', '8'], '--batch-size 8 --seed 8'],
      [['--batch-size', '8', '--seed', '7', '--no-shuffle'], '--batch-size 8 --no-shuffle'],
    ] as const) {
      const r = runCli([...base, ...flags, '--steps', '60', '--log', join(root, 'C.jsonl'), '--resume'], { cwd: root });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^error: --resume: .*checkpoint-0000040\\.json was trained with --batch-size 8 --seed 7, this run has ${now};`))]);
    }
    expect(readFileSync(join(root, 'C.jsonl'), 'utf8')).toBe(logBefore);
    expect(readdirSync(join(dir, 'checkpoints', 'run-0001')).filter((f) => f.endsWith('.json')).sort()).toEqual(['checkpoint-0000020.json', 'checkpoint-0000040.json']);
  });
});
