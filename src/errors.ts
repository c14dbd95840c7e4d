/**
 * Typed errors. Every error the user can cause is a LionOnnxError: one line that says what went
 * wrong, where, and what to do. The CLI prints `error: <message>` and exits with code 2; anything
 * else escaping is a bug and prints a stack trace.
 */
export class LionOnnxError extends Error {
  /** Short machine-readable kind, e.g. "model-format". */
  readonly code: string;
  constructor(code: string, message: string) {
    super(oneLine(message));
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * The message as one line: line breaks and other control characters (which model names, file
 * names and JSON.parse's excerpts can carry) are written as escapes, so the CLI's single
 * `error:` line stays single and a hostile name cannot drive the terminal.
 */
export function oneLine(message: string): string {
  return message.replace(/[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The bytes are not a valid ONNX model (truncated, garbage, wrong field types). */
export class ModelFormatError extends LionOnnxError {
  constructor(message: string) {
    super('model-format', message);
  }
}

/** An external-data reference is unsafe (outside the model folder) or inconsistent with its file. */
export class ExternalDataError extends LionOnnxError {
  constructor(message: string) {
    super('external-data', message);
  }
}

/** The graph does not satisfy what a pass needs (missing gradient, shape mismatch, name collision...). */
export class GraphError extends LionOnnxError {
  constructor(message: string) {
    super('graph', message);
  }
}

/** Bad options or arguments from the user. */
export class UsageError extends LionOnnxError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Bad data files (.npy, safetensors, manifest). */
export class DataError extends LionOnnxError {
  constructor(message: string) {
    super('data', message);
  }
}

/** The execution environment cannot do what was asked (e.g. CUDA provider not installed). */
export class RuntimeSetupError extends LionOnnxError {
  constructor(message: string) {
    super('runtime', message);
  }
}
