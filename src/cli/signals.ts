/**
 * The signals that end a CLI command early, and their exit codes (128 + signal number, as
 * shells report them): Ctrl-C (SIGINT) 130, SIGTERM 143 (`kill`, service managers), SIGHUP 129
 * (the terminal closed). `train` answers all three alike: finish the current run of steps,
 * save a checkpoint, exit with the signal's code.
 */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/** Calls `on` for each of the three signals (with how many have come so far); returns a function that uninstalls it. */
export function onStopSignals(on: (signal: StopSignal, count: number) => void): () => void {
  let count = 0;
  const handlers = (Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]).map((sig) => {
    const h = () => on(sig, ++count);
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
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
