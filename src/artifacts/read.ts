/**
 * Reads an artifacts directory: manifest, state, and graph paths, with clear errors. Everything
 * read through it stays inside it: its files must be regular files, not symlinks (a link could
 * make lion-onnx train, or export, some other file), and a file that is not what it claims is
 * never quoted in a message.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { lstatOrNull, kindOf, readRegularFile } from '../util/safe-fs.js';
import { validateManifest, type Manifest } from './manifest.js';
import { decodeSafetensors, type SafetensorsFile } from './safetensors.js';

export interface Artifacts {
  dir: string;
  manifest: Manifest;
  /** Path of a file of the directory, checked to be a regular file inside it (not a symlink). */
  path(file: string): string;
}

/** A file of an artifacts directory: present, regular, and not a symlink out of it. */
export function artifactFile(dir: string, file: string): string {
  const p = join(dir, file);
  const st = lstatOrNull(p);
  if (!st) throw new DataError(`${p}: file not found; the artifacts directory is incomplete — rebuild it with 'lion-onnx build' or 'rewrite'`);
  if (st.isSymbolicLink()) throw new DataError(`${p} is a symlink; lion-onnx reads only the files inside an artifacts directory, not links out of it — rebuild the directory`);
  if (!st.isFile()) throw new DataError(`${p} is ${kindOf(st)}, not a regular file; rebuild the artifacts directory`);
  return p;
}

/** Reads and validates DIR/manifest.json; never echoes the file's content. */
export function readManifest(dir: string): Manifest {
  const mpath = join(dir, 'manifest.json');
  const bytes = readRegularFile(artifactFile(dir, 'manifest.json'), { noFollow: true, maxBytes: 256 * 2 ** 20 });
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DataError(`${mpath}: not valid JSON, so not a lion-onnx manifest; rebuild the directory with 'lion-onnx build' or 'rewrite'`);
  }
  return validateManifest(raw, mpath);
}

export function openArtifacts(dir: string): Artifacts {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new UsageError(`${dir} is not a folder; pass the --out folder written by 'lion-onnx build' or 'lion-onnx rewrite'`);
  if (!lstatOrNull(join(dir, 'manifest.json'))) throw new UsageError(`${dir} has no manifest.json; it is not an artifacts directory (make one with 'lion-onnx build' or 'rewrite')`);
  const manifest = readManifest(dir);
  // Every file the manifest names, checked now rather than when a graph is first needed.
  for (const f of [manifest.state, ...Object.values(manifest.graphs)]) if (typeof f === 'string') artifactFile(dir, f);
  return { dir, manifest, path: (f: string) => artifactFile(dir, f) };
}

export function readInitialState(a: Artifacts): SafetensorsFile {
  const p = a.path(a.manifest.state);
  return decodeSafetensors(readRegularFile(p, { noFollow: true }), p);
}
