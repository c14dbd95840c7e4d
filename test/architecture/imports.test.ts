/**
 * The module structure the README's "Architecture" section describes: no import cycle between
 * files or between folders (each folder is a layer of the pipeline), and no source file over
 * 400 lines except generated ones.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { REPO } from '../helpers/cli.js';
import { cycles, sourceFiles } from '../helpers/imports.js';

const files = sourceFiles(join(REPO, 'src'));
// A folder of src/ is a layer of the pipeline (its subfolders belong to it: grad/rules is part
// of grad); the files at the top of src/ are each their own (index.ts is the top, errors.ts and
// version.ts the bottom).
const folder = (p: string) => (p.includes('/') ? p.split('/')[0] : p);

describe('src/ structure', () => {
  it('has no import cycle between files', () => {
    const edges = new Map(files.map((f) => [f.path, new Set(f.imports)]));
    expect(cycles(edges)).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const f of files) {
      const from = folder(f.path);
      const set = edges.get(from) ?? new Set<string>();
      for (const i of f.imports) if (folder(i) !== from) set.add(folder(i));
      edges.set(from, set);
    }
    expect(cycles(edges)).toEqual([]);
  });

  it('has no hand-written source file over 400 lines', () => {
    expect(files.filter((f) => !f.path.includes('.generated.') && f.lines > 400).map((f) => `${f.path}: ${f.lines}`)).toEqual([]);
  });
});
