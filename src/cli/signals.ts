/**
 * The signals that end a CLI command early, and their exit codes (128 + signal number, as
 * shells report them): Ctrl-C (SIGINT) 130, SIGTERM 143 (`kill`, service managers), SIGHUP 129
 * (the terminal closed). `train` answers all three alike: finish the current run of steps,
 * save a checkpoint, exit with the signal's code.
 */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * Calls `on` for each of the three signals (with how many have come so far). Returns a
 * function to call when the command is done: later signals are then ignored rather than
 * handed back to Node's default (which would kill the process while it exits, with no exit
 * code, after the checkpoint was saved).
 */
export function onStopSignals(on: (signal: StopSignal, count: number) => void): () => void {
  let count = 0;
  let done = false;
  for (const sig of Object.keys(SIGNAL_EXIT_CODES) as StopSignal[])
    process.on(sig, () => {
      if (!done) on(sig, ++count);
    });
  return () => {
    done = true;
  };
}

/** Writes to stderr, ignoring a terminal that is gone (SIGHUP: writes fail with EIO). */
export function note(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // Nobody is reading.
  }
}
