/**
 * Simulated API latency for the HubSpot and Salesforce sandboxes, so a benchmark can measure orbit-sync
 * against realistic round trips instead of loopback's sub-millisecond ones.
 *
 * A `LatencyModel` delays each API request by `baseMs + perRecordMs × records` before the sandbox
 * authenticates it, applies limits and faults, and runs its handler: every answer of an API route (errors
 * included) takes at least that long, and a write lands at the end of the wait, as a real server
 * processing it would. The wait is a timer, so concurrent requests overlap their waits.
 *
 * `records` is the number of inputs the request body carries on the batch routes each sandbox names (the
 * length of HubSpot's `inputs`, Salesforce's collection `records` or `compositeRequest`, the data lines of
 * a Bulk 2.0 CSV upload), and 1 for any other request or a body that does not parse. Counting a body means
 * reading it before the wait; the handler then reads the same text (`RequestBodies`).
 */
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LatencyModel {
  /** Every API request waits this long (ms, ≥ 0). */
  baseMs: number;
  /** Plus this much per record of a batch request (ms, ≥ 0; default 0). */
  perRecordMs?: number;
}

/** A copy of the model, or a RangeError when a value is negative or not finite. */
export function checkLatency(model: LatencyModel | undefined, name = 'latency'): LatencyModel | undefined {
  if (model === undefined) return undefined;
  const ok = (v: number): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!ok(model.baseMs)) throw new RangeError(`${name}.baseMs must be a finite number >= 0`);
  if (model.perRecordMs !== undefined && !ok(model.perRecordMs)) throw new RangeError(`${name}.perRecordMs must be a finite number >= 0`);
  return { baseMs: model.baseMs, ...(model.perRecordMs !== undefined ? { perRecordMs: model.perRecordMs } : {}) };
}

/** `baseMs + perRecordMs × records` (ms). */
export function latencyMs(model: LatencyModel, records: number): number {
  return model.baseMs + (model.perRecordMs ?? 0) * records;
}

/**
 * Resolves after at least `ms` on the monotonic clock (a timer may fire a hair early; the rest is waited
 * again). The timer does not keep the process alive: an open server does while it matters.
 */
export function sleep(ms: number): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  const until = performance.now() + ms;
  return new Promise((resolve) => {
    const tick = (): void => {
      const left = until - performance.now();
      if (left <= 0) {
        resolve();
        return;
      }
      setTimeout(tick, Math.ceil(left)).unref();
    };
    tick();
  });
}

/** The length of the array under `key` in a JSON object body; 1 when the body is not such an object. */
export function countJsonInputs(text: string, key: string): number {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const items = (body as Record<string, unknown>)[key];
      if (Array.isArray(items)) return items.length;
    }
  } catch {
    // Not JSON: the handler answers its own error; the request counts as one record.
  }
  return 1;
}

/** Data lines of a CSV upload: non-blank lines after the header (a quoted line break counts as a line). */
export function countCsvDataLines(text: string): number {
  let lines = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') lines += 1;
  return Math.max(0, lines - 1);
}

/**
 * Request bodies read once: the latency step reads a batch body to count its records, and the handler's
 * read gets the same text (or the same error, e.g. a body over the size limit) instead of an empty stream.
 */
export class RequestBodies {
  private readonly bodies = new WeakMap<IncomingMessage, Promise<string>>();

  read(req: IncomingMessage, readRaw: () => Promise<string>): Promise<string> {
    let body = this.bodies.get(req);
    if (!body) {
      body = readRaw();
      // Whoever awaits it sees the error; a body read early and never awaited again must not be an unhandled rejection.
      body.catch(() => undefined);
      this.bodies.set(req, body);
    }
    return body;
  }
}

/** A sandbox's current latency model (option, then `setLatency`) and the wait for one request. */
export class SandboxLatency {
  private model: LatencyModel | undefined;

  constructor(model: LatencyModel | undefined) {
    this.model = checkLatency(model);
  }

  set(model: LatencyModel | undefined): void {
    this.model = checkLatency(model);
  }

  get current(): LatencyModel | undefined {
    return this.model;
  }

  /** Whether the wait depends on the request's records (so a batch body is worth reading first). */
  get countsRecords(): boolean {
    return (this.model?.perRecordMs ?? 0) > 0;
  }

  /**
   * Waits `baseMs + perRecordMs × records`. `records` is asked for only when per-record latency is on;
   * it may read the body (through `RequestBodies`) and must not throw.
   */
  async wait(records: () => Promise<number> | number = () => 1): Promise<void> {
    const model = this.model;
    if (!model) return;
    const n = this.countsRecords ? await records() : 1;
    await sleep(latencyMs(model, n));
  }
}
