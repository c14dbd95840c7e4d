/**
 * Sessions specialized to the shapes actually fed (issue 15): a graph built for any batch size
 * is full of shape plumbing — Shape, Gather, Concat, Equal, NonZero, the dynamic unbroadcasts —
 * that onnxruntime cannot fold while a dim is symbolic (and onnxruntime-node ignores
 * freeDimensionOverrides). Declaring the data inputs at the shapes of the first run lets its
 * optimizer fold all of it. One session per shape signature, a few at most (training feeds one
 * batch size, and a last, shorter run of the loop); past that, the general session.
 */
import type * as ort from 'onnxruntime-node';
import { createSession, type ExecutionOptions } from './execution-provider.js';

const MAX_SHAPES = 3;

export class SpecializedSessions {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private general: Promise<ort.InferenceSession> | null = null;

  constructor(
    private readonly path: string,
    private readonly exec: ExecutionOptions,
    /** The inputs whose fed shapes key a session (data inputs; the loop's per-step vectors). */
    private readonly shaped: readonly string[],
    private readonly enabled: boolean,
    general?: ort.InferenceSession,
  ) {
    if (general) this.general = Promise.resolve(general);
  }

  /** The session for these feeds. */
  async for(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession> {
    if (this.enabled) {
      const shapes = Object.fromEntries(this.shaped.filter((n) => feeds[n]).map((n) => [n, feeds[n].dims]));
      const key = JSON.stringify(shapes);
      let s = this.sessions.get(key);
      if (!s && this.sessions.size < MAX_SHAPES) {
        // A graph that cannot take these shapes (data that does not fit it) falls back to the
        // general session, whose run then says what does not fit, as without specialization.
        s = createSession(this.path, this.exec, shapes).catch(() => this.generalSession());
        this.sessions.set(key, s);
      }
      if (s) return s;
    }
    return this.generalSession();
  }

  private generalSession(): Promise<ort.InferenceSession> {
    this.general ??= createSession(this.path, this.exec);
    return this.general;
  }

  /** How many specialized sessions exist (tests). */
  get count(): number {
    return this.sessions.size;
  }

  async release(): Promise<void> {
    const all = new Set(await Promise.all([...this.sessions.values(), ...(this.general ? [this.general] : [])]));
    for (const s of all) await s.release();
    this.sessions.clear();
    this.general = null;
  }
}
