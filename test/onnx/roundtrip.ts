/** Load -> save -> decode, and a field-by-field comparison with the decoded original. */
import { isDeepStrictEqual } from 'node:util';
import { decodeModelProto, loadModelFromBytes, modelToBytes } from '../../src/ir/model-io.js';

export interface RoundTripResult {
  /** First structural difference between original and re-encoded model, or null. */
  difference: string | null;
  /** Why the bytes differ although the decoded models are equal (empty when bytes are equal). */
  byteDifferences: string[];
  bytes: Uint8Array;
}

export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    if (a.length === b.length && a.every((x, i) => x === b[i])) return null;
    return `${path}: bytes differ`;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return `${path}: ${String(a)} != ${String(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

export function roundTrip(original: Uint8Array, source: string): RoundTripResult {
  const model = loadModelFromBytes(original, { source });
  const bytes = modelToBytes(model);
  const difference = firstDifference(decodeModelProto(original, source), decodeModelProto(bytes, 'round trip'));
  const byteDifferences: string[] = [];
  if (!difference && (bytes.length !== original.length || bytes.some((x, i) => x !== original[i]))) {
    // Same decoded content, different bytes: protobuf allows several encodings of one message.
    byteDifferences.push(bytes.length === original.length ? 'field order' : 'packed/unpacked repeated scalars or field order');
  }
  return { difference, byteDifferences, bytes };
}
