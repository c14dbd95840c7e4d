/**
 * The checkpoint commit protocol under deterministic fault injection (issue 16): every file
 * operation of writeCheckpoint (util/atomic-write.ts's fileOps) is made, in turn, to fail (an
 * error, after which cleanup runs) or to crash (the process is gone: that call and every later
 * one do nothing). After each, what is on disk must be the old checkpoint or the complete new
 * one, never a JSON without its state; a failure leaves no temp file, and after a crash
 * cleanLeftovers brings the folder back to whole checkpoints only. And the order of the calls:
 * the state is fsynced before it is renamed, renamed before the JSON is written, and each
 * rename is followed by an fsync of the folder.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { cleanLeftovers, listCheckpoints, readCheckpoint, writeCheckpoint } from '../../src/artifacts/checkpoint.js';
import { fileOps } from '../../src/util/atomic-write.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-commit-');
const tensor = (v: number): Tensor => ({ name: 'w', dataType: DataType.FLOAT, dims: [4], data: Float32Array.from([v, v + 1, v + 2, v + 3]) });
const info = (step: number) => ({ step, build: 'b'.repeat(32), run: 'run-0001', artifactsDir: root, hyperparameters: { beta1: 0.9 } });
const OPS = ['open', 'write', 'fsync', 'close', 'rename', 'remove'] as const;

afterEach(() => vi.restoreAllMocks());

/** Records every fileOps call (op and its path or fd) while `f` runs. */
function recording(f: () => void): string[] {
  const calls: string[] = [];
  const fds = new Map<number, string>();
  for (const op of OPS) {
    const real = fileOps[op] as (...a: unknown[]) => unknown;
    vi.spyOn(fileOps, op).mockImplementation(((...a: unknown[]) => {
      const r = real(...a);
      if (op === 'open') fds.set(r as number, basename(a[0] as string));
      const what = typeof a[0] === 'number' ? fds.get(a[0]) : op === 'rename' ? `${basename(a[0] as string)} -> ${basename(a[1] as string)}` : basename(a[0] as string);
      calls.push(`${op} ${what}`);
      return r;
    }) as never);
  }
  f();
  vi.restoreAllMocks();
  return calls;
}

/** Makes the k-th fileOps call fail (throws, later calls work) or crash (it and every later call do nothing and throw). */
function inject(k: number, mode: 'fail' | 'crash'): void {
  let n = 0;
  let dead = false;
  for (const op of OPS) {
    const real = fileOps[op] as (...a: unknown[]) => unknown;
    vi.spyOn(fileOps, op).mockImplementation(((...a: unknown[]) => {
      if (dead) throw new Error('the process is gone');
      if (n++ === k) {
        if (mode === 'crash') dead = true;
        throw Object.assign(new Error(`injected ${mode} at ${op}`), { code: 'EIO' });
      }
      return real(...a);
    }) as never);
  }
}

/** The folder holds the old checkpoint alone or old and new, both whole; no JSON without its state. */
function checkWhole(dir: string): number[] {
  const names = readdirSync(dir);
  for (const j of names.filter((f) => /^checkpoint-\d+\.json$/.test(f))) expect(names, `${j} has its state`).toContain(j.replace('.json', '.safetensors'));
  const steps = listCheckpoints(dir).map((p) => readCheckpoint(p).info.step);
  expect([[1], [1, 2]]).toContainEqual(steps);
  for (const p of listCheckpoints(dir)) {
    const c = readCheckpoint(p);
    expect(Array.from(c.tensors.get('w')!.data as Float32Array)).toEqual(Array.from(tensor(c.info.step * 10).data as Float32Array));
  }
  return steps;
}

describe('checkpoint commit protocol', () => {
  const calls = (() => {
    const dir = join(root, 'order');
    mkdirSync(dir);
    writeCheckpoint(dir, info(1), [tensor(10)]);
    return recording(() => writeCheckpoint(dir, info(2), [tensor(20)]));
  })();

  it('calls in order: state temp written, fsynced, closed, renamed, folder fsynced; then the JSON the same way', () => {
    const at = (c: string) => {
      const i = calls.findIndex((x) => x.startsWith(c));
      expect(i, `${c} in ${calls.join(' | ')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const stateTemp = calls.find((c) => /^open \.checkpoint-0000002\.safetensors\.tmp-/.test(c))!.slice(5);
    const jsonTemp = calls.find((c) => /^open \.checkpoint-0000002\.json\.tmp-/.test(c))!.slice(5);
    const order = [
      at(`open ${stateTemp}`),
      at(`write ${stateTemp}`),
      at(`fsync ${stateTemp}`),
      at(`close ${stateTemp}`),
      at(`rename ${stateTemp} -> checkpoint-0000002.safetensors`),
      at(`fsync order`),
      at(`open ${jsonTemp}`),
      at(`fsync ${jsonTemp}`),
      at(`rename ${jsonTemp} -> checkpoint-0000002.json`),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The folder is fsynced after the JSON's rename too.
    expect(calls.slice(order.at(-1)! + 1).some((c) => c === 'fsync order')).toBe(true);
  });

  for (const mode of ['fail', 'crash'] as const)
    it(`${mode} at every one of the ${calls.length} calls in turn: old or whole new, never a JSON without its state`, () => {
      for (let k = 0; k < calls.length; k++) {
        const dir = join(root, `${mode}-${k}`);
        mkdirSync(dir);
        writeCheckpoint(dir, info(1), [tensor(10)]);
        inject(k, mode);
        let threw = false;
        try {
          writeCheckpoint(dir, info(2), [tensor(20)]);
        } catch {
          threw = true;
        }
        vi.restoreAllMocks();
        const steps = checkWhole(dir);
        // Only the folder fsyncs may fail quietly (some filesystems refuse them; the renames
        // are atomic all the same); any other failure is reported.
        if (!threw) expect(calls[k], `call ${k}`).toMatch(/ order$/);
        if (mode === 'fail') {
          // A failure cleans up after itself: no temp file is left.
          expect(readdirSync(dir).filter((f) => f.includes('.tmp-')), `call ${k} (${calls[k]})`).toEqual([]);
        } else {
          cleanLeftovers(dir);
          expect(readdirSync(dir).sort()).toEqual(steps.flatMap((s) => [`checkpoint-000000${s}.json`, `checkpoint-000000${s}.safetensors`]).sort());
        }
      }
    });
});
