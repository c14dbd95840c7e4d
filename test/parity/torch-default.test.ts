/**
 * Real torch exports (issue 12): models exported with torch.onnx.export's DEFAULT settings at
 * opsets 14 and 17 (test/fixtures/torch-default/, scripts/torch/make_default_exports.py) —
 * folded, pre-transposed Linear weights under `onnx::MatMul_N`, LayerNorms and zero biases merged
 * by value into Identity copies, an output head tied to the embedding exported as a second
 * transposed copy, and weights held in Constant nodes. Through the CLI: build trains exactly
 * the parameters torch trains (same count, same values), train reproduces PyTorch + reference
 * Lion (first 5 losses within 1e-4 relative), and `export --safetensors` writes torch's
 * state_dict — the same keys and shapes `load_state_dict(strict=True)` takes (the fixture script
 * proved that load in torch: roundtrip.json) — holding torch's final weights.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TypedArray } from '../../src/onnx/data-types.js';
import { readSafetensors } from '../../src/artifacts/safetensors.js';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { FIRST_STEPS, FIRST_TOL, ALL_TOL, maxRelError } from './fixtures.js';

const ROOT = join(REPO, 'test/fixtures/torch-default');
const CASES = readdirSync(ROOT).filter((d) => /-op1[47]$/.test(d) && d !== 'cnn-bn-op17').sort();
const dir = tempDir('lion-onnx-torch-default-');

interface Trajectory {
  opset: number;
  input: string;
  target: string;
  batch_size: number;
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  weight_decay: number;
  losses: number[];
  parameter_tensors: number;
  parameter_values: number;
  parameters: string[];
  state_dict: Record<string, number[]>;
  noise_elements: Record<string, number[]>;
}

describe.each(CASES)('a default torch export: %s', (name) => {
  const fx = join(ROOT, name);
  const t = JSON.parse(readFileSync(join(fx, 'trajectory.json'), 'utf8')) as Trajectory;
  const art = join(dir, name);
  const log = join(dir, `${name}.jsonl`);

  it('build trains what torch trains: the same number of tensors and values', () => {
    const r = runCli(['build', join(fx, 'model.onnx'), '--loss', 'cross-entropy', '--out', art, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { trained: { tensors: number; values: number }; tensors: { name: string; trained: boolean; torch?: { name: string; aliases?: string[] } }[] };
    expect(report.trained).toEqual({ tensors: t.parameter_tensors, values: t.parameter_values });
    // Under torch's names (a folded weight named from its module): every torch parameter is trained.
    const trainedTorch = new Set(report.tensors.filter((x) => x.trained).map((x) => x.torch?.name ?? x.name));
    expect([...trainedTorch].sort()).toEqual([...t.parameters].sort());
  });

  it('train reproduces PyTorch + reference Lion', () => {
    const r = runCli([
      'train', art,
      '--data', `${t.input}=${join(fx, `${t.input}.npy`)}`, '--data', `${t.target}=${join(fx, `${t.target}.npy`)}`,
      '--no-shuffle', '--batch-size', String(t.batch_size), '--steps', String(t.steps), '--lr', String(t.lr),
      '--beta1', String(t.beta1), '--beta2', String(t.beta2), '--weight-decay', String(t.weight_decay), '--log', log,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const losses = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number);
    const e5 = maxRelError(losses, t.losses, FIRST_STEPS);
    console.log(`${name}: loss max rel error, first ${FIRST_STEPS}: ${e5.toExponential(2)}, all ${t.steps}: ${maxRelError(losses, t.losses).toExponential(2)}`);
    expect(e5).toBeLessThan(FIRST_TOL);
    expect(maxRelError(losses, t.losses)).toBeLessThan(ALL_TOL);
  });

  it("export --safetensors is torch's state_dict: its keys and shapes, torch's final weights", () => {
    const st = join(dir, `${name}.safetensors`);
    const r = runCli(['export', art, '-o', join(dir, `${name}.onnx`), '--safetensors', st]);
    expect(r.code, r.stderr).toBe(0);
    const got = readSafetensors(st).tensors;
    const want = readSafetensors(join(fx, 'final.safetensors')).tensors;
    // What load_state_dict(strict=True) checks: exactly the keys, each with its shape.
    expect(Object.fromEntries([...got].map(([k, v]) => [k, v.dims]))).toEqual(t.state_dict);
    const bound = 2 * t.lr * t.steps;
    let worst = 0;
    for (const [k, w] of want) {
      const a = got.get(k)!.data as TypedArray;
      const b = w.data as TypedArray;
      const noise = new Set(t.noise_elements[k] ?? []);
      for (let i = 0; i < b.length; i++) {
        const d = Math.abs(Number(a[i]) - Number(b[i]));
        // Elements whose true gradient is 0 move by rounding noise in both engines (at most a full step each time).
        if (noise.has(i)) expect(d, `${k}[${i}] (gradient noise)`).toBeLessThanOrEqual(bound + 1e-6);
        else worst = Math.max(worst, d);
      }
    }
    console.log(`${name}: exported state_dict vs torch's final weights, max |Δ| ${worst.toExponential(2)} (noise elements excluded: ${Object.values(t.noise_elements).flat().length})`);
    expect(worst).toBeLessThanOrEqual(2e-6);
    // The fixture script loaded this very export into the torch module, strictly.
    expect(JSON.parse(readFileSync(join(fx, 'roundtrip.json'), 'utf8')).load_state_dict_strict).toBe('ok');
  });
});

describe('what build says about a default torch export', () => {
  it('the transformer: folded weights named from their modules, untied copies, the head tied to the embedding', () => {
    const r = runCli(['build', join(ROOT, 'transformer-op17/model.onnx'), '--loss', 'cross-entropy', '--out', join(dir, 'report-tf'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { tensors: { name: string; source: string; from?: string; trained: boolean; reason: string; torch?: { name: string; transposed?: boolean; aliases?: string[] } }[]; warnings: string[] };
    const byName = new Map(report.tensors.map((x) => [x.name, x]));
    expect(byName.get('blocks.0.attn_qkv.weight')).toMatchObject({ source: 'folded', from: expect.stringMatching(/^onnx::MatMul_\d+$/), torch: { name: 'blocks.0.attn_qkv.weight', transposed: true }, trained: true });
    expect(byName.get('wte.weight')).toMatchObject({ trained: true, torch: { aliases: ['lm_head.weight'] } });
    expect(byName.get('blocks.1.ln1.weight')).toMatchObject({ source: 'untied', from: 'blocks.0.ln1.weight', trained: true });
    // The causal masks are buffers: read only as Where's condition, so never trained.
    expect(byName.get('blocks.0.attn.mask') ?? byName.get('blocks.0.mask')).toMatchObject({ trained: false });
    const text = runCli(['build', join(ROOT, 'transformer-op17/model.onnx'), '--loss', 'cross-entropy', '--out', join(dir, 'report-tf2')]);
    expect(text.stdout).toMatch(/^trains 28 tensors \(5,120 values\):$/m);
    expect(text.stdout).toMatch(/blocks\.0\.attn_qkv\.weight +\[16, 48\] +folded from onnx::MatMul_\d+ \(transposed\) +decay/);
    expect(text.stdout).toMatch(/wte\.weight .* decay, also lm_head\.weight/);
  });

  it('--tie-deduplicated keeps the exporter\u2019s merged tensors as one', () => {
    const r = runCli(['build', join(ROOT, 'transformer-op17/model.onnx'), '--loss', 'cross-entropy', '--out', join(dir, 'tied'), '--json', '--tie-deduplicated']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { trained: { tensors: number }; tensors: { source: string }[] };
    expect(report.tensors.some((x) => x.source === 'untied')).toBe(false);
    expect(report.trained.tensors).toBeLessThan(28);
  });

  it('a Conv with a BatchNorm the eval export folded in: trained as the conv it is, and said so', () => {
    const r = runCli(['build', join(ROOT, 'cnn-bn-op17/model.onnx'), '--loss', 'cross-entropy', '--out', join(dir, 'bn')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/warning: onnx::Conv_\d+: the weight of conv1 with a BatchNormalization folded in by the eval-mode export: the BN's own parameters and running statistics are not in the model \(re-export with model\.eval\(\) and training=torch\.onnx\.TrainingMode\.PRESERVE/);
    expect(r.stdout).toMatch(/^trains 4 tensors/m);
  });
});
