/**
 * The package's bin runs as a program: `npx lion-onnx` (the README's main command) executes
 * dist/cli/main.js itself, so the build must leave it executable with its `#!/usr/bin/env node`
 * line — tsc writes it without the executable bit, and npx does not always restore it (a
 * fresh clone after `npm test` got "sh: 1: lion-onnx: Permission denied").
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../../src/version.js';
import { REPO } from '../helpers/cli.js';

const BIN = join(REPO, 'dist', 'cli', 'main.js');

describe('the lion-onnx bin', () => {
  it.runIf(process.platform !== 'win32')('is executable after the build and runs without node on the command line', () => {
    expect(statSync(BIN).mode & 0o111).toBe(0o111);
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });
});
