/**
 * Every crasher the fuzzers and the resource-bomb hunt found, replayed from
 * test/fixtures/fuzz/regressions/<name>/case.json: what it is, what fixed it, and the stages to
 * run with the error each must end in (a regex), or "ok". A case has a model.onnx, or edits a
 * freshly built and trained artifacts directory of the seed MLP ("template": "mlp"; JSON
 * pointer edits, so the fixture survives changes to the manifest's other fields). Stages that
 * may reach onnxruntime run in the sandbox child, so a regression that aborts it again fails
 * this test instead of killing the runner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportTrained } from '../../src/api/export.js';
import { newestCheckpoint } from '../../src/artifacts/checkpoint.js';
import { CONTROL, HANG_MS, checkTyped, dataTemplate, fuzzContext, regressionCases } from '../helpers/fuzz.js';
import { SEED_DIR } from '../helpers/fuzz-seeds.js';
import type { SandboxJob, SandboxResult } from '../helpers/sandbox.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = join(REPO, 'test/fixtures/fuzz/regressions');
const ctx = fuzzContext(tempDir('lion-onnx-regressions-'));
afterAll(() => ctx.sandbox.close());

type Run = 'session' | 'inspect' | 'build' | 'rewrite' | 'build-train' | 'train' | 'resume' | 'export';
interface Case {
  what: string;
  fixed: string;
  template?: 'mlp';
  edit?: { file: string; set?: Record<string, unknown>; delete?: string[]; text?: string };
  stages: { run: Run; loss?: string; expect: string }[];
}

/** RFC 6901 pointer: the parent container and the last key. */
function locate(doc: unknown, pointer: string): [Record<string, unknown>, string] {
  const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  let at = doc as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  return [at, keys[keys.length - 1]];
}

function editJson(doc: unknown, edit: NonNullable<Case['edit']>): unknown {
  for (const [p, v] of Object.entries(edit.set ?? {})) {
    const [at, k] = locate(doc, p);
    at[k] = v;
  }
  for (const p of edit.delete ?? []) {
    const [at, k] = locate(doc, p);
    delete at[k];
  }
  return doc;
}

/** Applies a case's edit to a copy of the template; "checkpoint" is the newest checkpoint's JSON. */
function editedCopy(template: string, name: string, edit: NonNullable<Case['edit']>): string {
  const dir = join(ctx.root, name);
  cpSync(template, dir, { recursive: true });
  const file = edit.file === 'checkpoint' ? newestCheckpoint(join(dir, 'checkpoints'))!.path : join(dir, edit.file);
  if (edit.text !== undefined) writeFileSync(file, edit.text);
  else if (file.endsWith('.safetensors')) {
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = new TextEncoder().encode(JSON.stringify(editJson(JSON.parse(bytes.subarray(8, 8 + n).toString()), edit)));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(file, Buffer.concat([len, header, bytes.subarray(8 + n)]));
  } else writeFileSync(file, JSON.stringify(editJson(JSON.parse(readFileSync(file, 'utf8')), edit), null, 2));
  return dir;
}

const SEED_DATA = { x: join(SEED_DIR, 'x4.npy'), target: join(SEED_DIR, 'target3.npy') };

async function runStage(c: Case, name: string, i: number, run: Run, loss?: string): Promise<SandboxResult> {
  if (c.template) {
    const dir = editedCopy(await dataTemplate(ctx), `${name}-${i}`, c.edit!);
    if (run === 'export') {
      try {
        exportTrained(dir, join(dir, 'exported.onnx'));
        return { status: 'ok', value: {} };
      } catch (e) {
        return { status: 'typed', code: '', message: checkTyped(e, 'export') };
      }
    }
    return ctx.sandbox.run({ kind: 'train', dir, data: SEED_DATA, steps: run === 'resume' ? 3 : 2, resume: run === 'resume' }, HANG_MS + 20_000);
  }
  const path = join(ROOT, name, 'model.onnx');
  const job = (run === 'session' || run === 'inspect' ? { kind: run, path } : { kind: run, path, out: join(ctx.root, `${name}-${i}`), loss }) as SandboxJob;
  return ctx.sandbox.run(job, HANG_MS + 20_000);
}

describe('fuzz regressions', () => {
  const names = regressionCases(ROOT);
  beforeAll(() => dataTemplate(ctx), 60_000);
  it('there are fixtures to replay', () => expect(names.length).toBeGreaterThanOrEqual(15));

  for (const name of names) {
    const c = JSON.parse(readFileSync(join(ROOT, name, 'case.json'), 'utf8')) as Case;
    for (const [i, s] of c.stages.entries())
      it(`${name}: ${s.run} ends in ${s.expect === 'ok' ? 'success' : 'one typed error line'}`, { timeout: 60_000 }, async () => {
        const t0 = performance.now();
        const r = await runStage(c, name, i, s.run, s.loss);
        const seconds = (performance.now() - t0) / 1000;
        expect(r.status === 'died' || r.status === 'timeout' || r.status === 'untyped' ? r : 'no crash').toBe('no crash');
        expect(seconds, 'seconds').toBeLessThan(HANG_MS / 1000);
        if (s.expect === 'ok') expect(r).toMatchObject({ status: 'ok' });
        else {
          expect(r.status, JSON.stringify(r)).toBe('typed');
          const message = (r as { message: string }).message;
          expect(message).toMatch(new RegExp(s.expect));
          expect(message).not.toMatch(CONTROL);
        }
      });
  }
});
