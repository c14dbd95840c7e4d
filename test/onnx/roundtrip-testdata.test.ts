/**
 * Every model in Debian's libonnx-testdata loads and saves with nothing dropped: the decoded
 * original and the decoded re-encoding are compared field by field. Where the bytes differ, the
 * test checks that the reason is one of protobuf's legal encoding choices (see roundtrip.ts).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { roundTrip } from './roundtrip.js';

const ROOT = '/usr/share/libonnx-testdata/data';

function findModels(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findModels(p, out);
    else if (e.name.endsWith('.onnx')) out.push(p);
  }
  return out;
}

const available = existsSync(ROOT);
if (!available)
  console.warn(`SKIPPED: ${ROOT} not found; install Debian's libonnx-testdata (apt-get install libonnx-testdata) to run the round-trip test`);

describe.skipIf(!available)('round trip of libonnx-testdata', () => {
  const models = available ? findModels(ROOT).sort() : [];
  it('finds the models', () => {
    expect(models.length).toBeGreaterThan(500);
  });
  it('loads and saves every model with nothing dropped', () => {
    const failures: string[] = [];
    const byteReasons = new Map<string, number>();
    for (const path of models) {
      try {
        const r = roundTrip(readFileSync(path), path);
        if (r.difference) failures.push(`${path}: ${r.difference}`);
        for (const why of r.byteDifferences) byteReasons.set(why, (byteReasons.get(why) ?? 0) + 1);
      } catch (e) {
        failures.push(`${path}: ${(e as Error).message}`);
      }
    }
    if (byteReasons.size) console.log('byte-level differences (decoded models identical):', Object.fromEntries(byteReasons));
    expect(failures.length, failures.slice(0, 10).join('\n')).toBe(0);
  }, 120_000);
});
