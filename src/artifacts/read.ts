/** Reads an artifacts directory: manifest, state, and graph paths, with clear errors. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { validateManifest, type Manifest } from './manifest.js';
import { readSafetensors, type SafetensorsFile } from './safetensors.js';

export interface Artifacts {
  dir: string;
  manifest: Manifest;
  path(file: string): string;
}

export function openArtifacts(dir: string): Artifacts {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`${dir} is not a folder; pass the --out folder written by 'lion-onnx build' or 'lion-onnx rewrite'`);
  const mpath = join(dir, 'manifest.json');
  if (!existsSync(mpath)) throw new UsageError(`${dir} has no manifest.json; it is not an artifacts directory (make one with 'lion-onnx build' or 'rewrite')`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(mpath, 'utf8'));
  } catch (e) {
    throw new DataError(`${mpath}: not valid JSON (${(e as Error).message})`);
  }
  const manifest = validateManifest(raw, mpath);
  return { dir, manifest, path: (f: string) => join(dir, f) };
}

export function readInitialState(a: Artifacts): SafetensorsFile {
  return readSafetensors(a.path(a.manifest.state));
}
