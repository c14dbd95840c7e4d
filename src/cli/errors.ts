/**
 * How the CLI ends on errors: a LionOnnxError (bad input) prints one line and exits 2; a usage
 * error from yargs likewise; anything else is a bug: one line plus a hint, or the stack with
 * --verbose.
 */
import { LionOnnxError } from '../errors.js';

export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERNAL = 1;

/** A command stopped by a signal after cleaning up: exit with the signal's code, nothing more to print. */
export class Interrupted extends Error {
  constructor(readonly exitCode: number) {
    super('interrupted');
  }
}

export function reportError(e: unknown, verbose: boolean): number {
  if (e instanceof Interrupted) return e.exitCode;
  if (e instanceof LionOnnxError) {
    process.stderr.write(`error: ${e.message}\n`);
    if (verbose && e.stack) process.stderr.write(e.stack + '\n');
    return EXIT_BAD_INPUT;
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (verbose && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  else process.stderr.write(`internal error: ${msg.split('\n')[0]} (run with --verbose for the stack trace; please report it)\n`);
  return EXIT_INTERNAL;
}
