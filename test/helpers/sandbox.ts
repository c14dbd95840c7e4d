/**
 * A child process for the fuzzers' onnxruntime stages (sandbox-child.mjs). onnxruntime aborts
 * the whole process on some malformed graphs (SIGABRT from an assertion in its shape inference,
 * found by the fuzzer), which would take the test runner down with it; here such a death is
 * a result the test reports, as is a job that runs past its timeout. A dead or killed child
 * is replaced on the next job.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./sandbox-child.mjs', import.meta.url));

export type SandboxJob =
  | { kind: 'train'; dir: string; data?: Record<string, string>; steps?: number; stepsPerRun?: number; checkpointEvery?: number; batchSize?: number; resume?: boolean; log?: string }
  | { kind: 'session' | 'inspect'; path: string }
  | { kind: 'build' | 'rewrite' | 'build-train'; path: string; out: string; loss?: string };

export type SandboxResult =
  | { status: 'ok'; value: Record<string, unknown> }
  | { status: 'typed'; code: string; message: string }
  | { status: 'untyped'; name: string; message: string; stack: string }
  | { status: 'died'; signal: string | null; exitCode: number | null; stderr: string }
  | { status: 'timeout'; ms: number };

export class Sandbox {
  private child: ChildProcess | null = null;
  private ready: Promise<void> | null = null;
  private stderr = '';
  private nextId = 1;

  private start(): Promise<void> {
    this.stderr = '';
    const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code, signal) => reject(new Error(`the sandbox child exited while starting (${signal ?? code}): ${this.stderr}`)));
    });
  }

  async run(job: SandboxJob, timeoutMs = 10_000): Promise<SandboxResult> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) this.ready = this.start();
    await this.ready;
    const child = this.child!;
    const id = this.nextId++;
    return new Promise<SandboxResult>((resolve) => {
      const done = (r: SandboxResult) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(r);
      };
      const onMessage = (m: { id?: number } & SandboxResult) => {
        if (m.id === id) done(m);
      };
      const onExit = (exitCode: number | null, signal: string | null) => {
        this.child = null;
        done({ status: 'died', signal, exitCode, stderr: this.stderr.slice(-1500) });
      };
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        child.kill('SIGKILL');
        this.child = null;
        done({ status: 'timeout', ms: timeoutMs });
      }, timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ ...job, id });
    });
  }

  close(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}
