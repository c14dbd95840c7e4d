#!/usr/bin/env node
// Fingerprint of what the pipeline emits and trains, for refactors that must not change the
// numbers: builds the torch fixtures (test/fixtures/torch/*) with Lion, AdamW and SGD, prints
// the SHA-256 of every graph file, then trains each 12 steps (4 per run, seeded) and prints
// the losses' bits. Run it before and after a change: the outputs must be identical.
//   node scripts/dev/pipeline-fingerprint.mjs > before.txt
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const { buildFromFile } = await import(join(repo, 'dist/api/build.js'));
const { train } = await import(join(repo, 'dist/api/train.js'));
const root = mkdtempSync(join(tmpdir(), 'lion-onnx-fingerprint-'));
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
try {
  for (const model of ['mlp', 'cnn', 'transformer'])
    for (const optimizer of ['lion', 'adamw', 'sgd']) {
      const fix = join(repo, 'test/fixtures/torch', model);
      const dir = join(root, `${model}-${optimizer}`);
      buildFromFile(join(fix, 'model.onnx'), dir, { loss: 'cross-entropy', optimizer, noDecay: 'bias' });
      const graphs = readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort();
      console.log(`${model} ${optimizer} graphs: ${graphs.map((g) => `${g}=${sha(join(dir, g))}`).join(' ')}`);
      const losses = [];
      await train(dir, {
        data: model === 'transformer' ? { tokens: join(fix, 'tokens.npy'), target: join(fix, 'target.npy') } : { x: join(fix, 'x.npy'), target: join(fix, 'target.npy') },
        batchSize: 8,
        steps: 12,
        lr: 1e-3,
        seed: 5,
        stepsPerRun: 4,
        threads: 1,
        onStep: (i) => losses.push(i.loss),
      });
      const bits = Buffer.from(Float64Array.from(losses).buffer).toString('hex');
      console.log(`${model} ${optimizer} losses: ${createHash('sha256').update(bits).digest('hex').slice(0, 16)} first ${losses[0]} last ${losses.at(-1)}`);
    }
} finally {
  rmSync(root, { recursive: true, force: true });
}
