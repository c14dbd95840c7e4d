#!/usr/bin/env node
/** lion-onnx command line: a thin layer over the public API (src/index.ts). */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { VERSION } from '../version.js';
import { UsageError } from '../errors.js';
import { reportError } from './errors.js';
import { inspectCommand } from './inspect.js';
import { rewriteCommand } from './rewrite.js';
import { buildCommand } from './build.js';
import { trainCommand } from './train.js';
import { exportCommand } from './export.js';
import { plotCommand } from './plot.js';

const argv = hideBin(process.argv);
// A closed terminal or pipe (SIGHUP, `| head`) must not turn into an unhandled stream error.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
const verbose = argv.includes('--verbose');

async function main(): Promise<number> {
  await yargs(argv)
    .scriptName('lion-onnx')
    .usage('$0 <command> [options]\n\nTrain ONNX models with the Lion optimizer on onnxruntime-node.')
    .command(inspectCommand)
    .command(rewriteCommand)
    .command(buildCommand)
    .command(trainCommand)
    .command(exportCommand)
    .command(plotCommand)
    .option('verbose', { type: 'boolean', default: false, describe: 'print stack traces on errors; check every pass of build/rewrite and print a line per pass' })
    .demandCommand(1, 'name a command; see lion-onnx --help')
    .strict()
    .version(VERSION)
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    // `--no-decay` is an option of its own, not the negation of a `--decay` flag.
    .parserConfiguration({ 'boolean-negation': false })
    .fail((msg, err) => {
      throw err ?? new UsageError(`${msg} (see lion-onnx --help)`);
    })
    .parseAsync();
  return 0;
}

// Exit as soon as the command is done, rather than when Node's handles close: a signal that
// comes while Node tears down would otherwise find the default action (death by the signal, no
// exit code) after the checkpoint was saved. stdout and stderr are synchronous on Linux.
main().then(
  (code) => {
    // A command may have set its own exit code (train: 130 after Ctrl-C).
    process.exit(process.exitCode || code);
  },
  (e) => {
    process.exit(reportError(e, verbose));
  },
);
