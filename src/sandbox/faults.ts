/**
 * Fault injection and request observation shared by the three sandboxes (issue #6).
 *
 * A `FaultPlan` decides, per request, whether the sandbox answers it normally or with a fault, and per
 * record (HubSpot batch inputs, Salesforce records) whether that one record fails on its own:
 *
 *   - `rateLimited`: the vendor's throttle answer (HubSpot 429 TEN_SECONDLY_ROLLING with its
 *     X-HubSpot-RateLimit-* headers; Salesforce 403 REQUEST_LIMIT_EXCEEDED "ConcurrentRequests …", its
 *     only throttle signal on REST; Leadpipe 429 RATE_LIMITED with Retry-After). Nothing is processed.
 *   - `serverError`: a 500/502/503/504 with the vendor's error body. Nothing is processed.
 *   - `timeout`: the request IS processed (a write is applied), but the answer is held `timeoutMs`, past
 *     the client's timeout: the client gives up on a write that happened.
 *   - `reset`: the request IS processed, then the connection is destroyed half-way through the answer's
 *     body (for a download, half-way through the file).
 *   - `tokenExpiry`: the access token presented expires now (OAuth tokens only; a private-app token or an
 *     API key never expires, so the request is answered normally): the sandbox answers its usual 401 and
 *     the client must refresh.
 *   - `partial` (per record): HubSpot fails that batch input alone in a 207; Salesforce fails that record
 *     alone with a per-record error. Transient errors (what a retry can cure), so a later sync writes it.
 *
 * Seeded and order-independent: a request's fault is a hash of (seed, route, method, path and query,
 * body length, and how many times that same request was seen before), not a draw from a shared stream,
 * so a replayed scenario gets the same faults on the same requests however concurrent requests
 * interleave, and the n-th retry of a request gets its own draw. Records are drawn the same way on
 * (seed, object, record key, occurrence).
 *
 * `SandboxObserver` hooks let a test act at exact points of a request: `received` (routed, before
 * anything is processed), `handled` (processed, answer not yet sent; the sandbox waits for the hook),
 * `answered` (the answer was sent), and `bodyHalfSent` (half of a streamed answer's declared bytes are
 * out; for a chunked answer, its first chunk).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_FAULT_KINDS = ['rateLimited', 'serverError', 'timeout', 'reset', 'tokenExpiry'] as const;
export type RequestFaultKind = (typeof REQUEST_FAULT_KINDS)[number];
export type FaultKind = RequestFaultKind | 'partial';

export interface FaultConfig {
  /** Same seed, same requests → same faults. */
  seed: string | number;
  /** Probability per request (per record for `partial`), each in [0, 1]; the request kinds sum to ≤ 1. */
  rates: Partial<Record<FaultKind, number>>;
  /** How long a `timeout` answer is held (default 5,000 ms): set it past the client's timeout. */
  timeoutMs?: number;
  /** Only these routes get request faults (default: every route the sandbox subjects to faults). */
  routes?: readonly string[];
}

export interface FaultEvent {
  route: string;
  kind: FaultKind;
  /** The request (`METHOD path?query #bytes`) or record (`object:key`) it hit. */
  target: string;
  /** 0 for the first time this request or record was seen, 1 for its first retry, … */
  occurrence: number;
}

export interface FaultStats {
  /** Requests the plan was asked about. */
  requests: number;
  /** Faults injected, by kind. */
  injected: Record<FaultKind, number>;
}

/** A number in [0, 1) from a hash of the parts: the same parts always give the same number. */
export function hashUnit(...parts: ReadonlyArray<string | number>): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

export class FaultPlan {
  private readonly seen = new Map<string, number>();
  private readonly log: FaultEvent[] = [];
  private asked = 0;
  readonly timeoutMs: number;

  constructor(readonly config: FaultConfig) {
    for (const [kind, rate] of Object.entries(config.rates)) {
      if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new RangeError(`faults.rates.${kind} must be a number in [0, 1]`);
    }
    const requestTotal = REQUEST_FAULT_KINDS.reduce((sum, kind) => sum + (config.rates[kind] ?? 0), 0);
    if (requestTotal > 1 + 1e-9) throw new RangeError(`faults.rates: the request faults add up to ${requestTotal}, more than 1`);
    this.timeoutMs = config.timeoutMs ?? 5000;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs < 0) throw new RangeError('faults.timeoutMs must be a non-negative number');
  }

  /**
   * The fault for this request, if any. `applicable` leaves out kinds the request cannot have (a token
   * that cannot expire): a draw landing on one of those is answered normally.
   */
  forRequest(route: string, req: IncomingMessage, applicable: (kind: RequestFaultKind) => boolean = () => true): RequestFaultKind | null {
    if (this.config.routes !== undefined && !this.config.routes.includes(route)) return null;
    this.asked += 1;
    const target = `${req.method ?? 'GET'} ${req.url ?? '/'} #${req.headers['content-length'] ?? '-'}`;
    const occurrence = this.next(`req\u0000${route}\u0000${target}`);
    const u = hashUnit(this.config.seed, 'request', route, target, occurrence);
    let edge = 0;
    for (const kind of REQUEST_FAULT_KINDS) {
      edge += this.config.rates[kind] ?? 0;
      if (u < edge) {
        if (!applicable(kind)) return null;
        this.log.push({ route, kind, target, occurrence });
        return kind;
      }
    }
    return null;
  }

  /** Whether this record fails alone (the `partial` rate), for the record's `object` and unique `key`. */
  forRecord(route: string, object: string, key: string): boolean {
    const rate = this.config.rates.partial ?? 0;
    if (rate <= 0) return false;
    const target = `${object}:${key.toLowerCase()}`;
    const occurrence = this.next(`rec\u0000${target}`);
    if (hashUnit(this.config.seed, 'record', target, occurrence) >= rate) return false;
    this.log.push({ route, kind: 'partial', target, occurrence });
    return true;
  }

  /** A number in [0, 1) for a fault's details (which 5xx status, where to cut): seeded like the fault. */
  detail(event: string): number {
    return hashUnit(this.config.seed, 'detail', event, this.log.length);
  }

  events(): FaultEvent[] {
    return this.log.map((e) => ({ ...e }));
  }

  stats(): FaultStats {
    const injected: Record<FaultKind, number> = { rateLimited: 0, serverError: 0, timeout: 0, reset: 0, tokenExpiry: 0, partial: 0 };
    for (const e of this.log) injected[e.kind] += 1;
    return { requests: this.asked, injected };
  }

  private next(key: string): number {
    const n = this.seen.get(key) ?? 0;
    this.seen.set(key, n + 1);
    return n;
  }
}

/** 500, 502, 503 or 504, seeded. */
export function serverErrorStatus(plan: FaultPlan, route: string): 500 | 502 | 503 | 504 {
  const statuses = [500, 502, 503, 504] as const;
  return statuses[Math.floor(plan.detail(`status:${route}`) * statuses.length)] ?? 503;
}

export type ObservedPhase = 'received' | 'handled' | 'answered' | 'bodyHalfSent';

export interface ObservedRequest {
  route: string;
  phase: ObservedPhase;
  method: string;
  /** The request's path and query. */
  url: string;
  /** `answered`: the status sent. */
  status?: number;
}

/** Called at each phase; `received` and `handled` are awaited before the sandbox goes on. */
export type SandboxObserver = (event: ObservedRequest) => void | Promise<void>;

export interface TrafficStats {
  /** Requests routed (every phase `received`). */
  requests: number;
  /** Answers by status. */
  byStatus: Record<string, number>;
  /** The most requests in progress at once. */
  maxInFlight: number;
  /** Sum over time of requests in progress (ms): ÷ elapsed = mean requests in flight. */
  inFlightMs: number;
  firstAt?: number;
  lastAt?: number;
}

/** What every sandbox exposes for faults and observation. */
export interface FaultControls {
  /** Sets (or, with null, removes) the fault plan for every request from now on. */
  setFaults(config: FaultConfig | null): void;
  /** The faults injected so far, in order. */
  faultEvents(): FaultEvent[];
  faultStats(): FaultStats;
  /** Adds a hook called at each phase of every request; returns its removal. */
  observe(observer: SandboxObserver): () => void;
  /** Requests, answers by status, and requests in flight since start (or `resetTraffic`). */
  traffic(): TrafficStats;
  resetTraffic(): void;
}

/**
 * What every sandbox shares for faults and observation: the current plan (set per run), the observers,
 * the traffic counters, and how a `timeout` or `reset` fault changes an answer on its way out.
 */
export class SandboxFaults {
  plan: FaultPlan | null;
  private readonly observers = new Set<SandboxObserver>();
  private inFlight = 0;
  private lastChange = 0;
  private readonly traffic: TrafficStats = { requests: 0, byStatus: {}, maxInFlight: 0, inFlightMs: 0 };

  constructor(
    config: FaultConfig | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.plan = config ? new FaultPlan(config) : null;
  }

  set(config: FaultConfig | null): void {
    this.plan = config ? new FaultPlan(config) : null;
  }

  /** The sandbox's `FaultControls`. */
  controls(): FaultControls {
    return {
      setFaults: (config) => this.set(config),
      faultEvents: () => this.plan?.events() ?? [],
      faultStats: () => this.plan?.stats() ?? { requests: 0, injected: { rateLimited: 0, serverError: 0, timeout: 0, reset: 0, tokenExpiry: 0, partial: 0 } },
      observe: (observer) => this.observe(observer),
      traffic: () => this.stats(),
      resetTraffic: () => this.resetTraffic(),
    };
  }

  observe(observer: SandboxObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** A request was routed: counts it, tracks it until its answer finishes, and awaits the `received` hooks. */
  async received(route: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t = this.now();
    this.traffic.requests += 1;
    this.traffic.firstAt ??= t;
    this.moveInFlight(t, +1);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const at = this.now();
      this.traffic.lastAt = at;
      this.moveInFlight(at, -1);
      const status = String(res.statusCode);
      this.traffic.byStatus[status] = (this.traffic.byStatus[status] ?? 0) + 1;
      void this.emit({ route, phase: 'answered', method: req.method ?? 'GET', url: req.url ?? '', status: res.statusCode });
    };
    res.once('finish', finish);
    res.once('close', finish);
    if (this.observers.size > 0) this.watchHalfBody(route, req, res);
    await this.emit({ route, phase: 'received', method: req.method ?? 'GET', url: req.url ?? '' });
  }

  /** The request was processed and its answer is about to go out. */
  async handled(route: string, req: IncomingMessage): Promise<void> {
    await this.emit({ route, phase: 'handled', method: req.method ?? 'GET', url: req.url ?? '' });
  }

  stats(): TrafficStats {
    const t = this.now();
    return { ...this.traffic, byStatus: { ...this.traffic.byStatus }, inFlightMs: this.traffic.inFlightMs + this.inFlight * (t - this.lastChange) };
  }

  resetTraffic(): void {
    const t = this.now();
    this.traffic.requests = 0;
    this.traffic.byStatus = {};
    this.traffic.maxInFlight = this.inFlight;
    this.traffic.inFlightMs = 0;
    delete this.traffic.firstAt;
    delete this.traffic.lastAt;
    this.lastChange = t;
  }

  /**
   * Applies a `timeout` or `reset` fault to the answer about to be written on `res`: `timeout` holds every
   * write until `timeoutMs` has passed; `reset` lets the head and half the body out (a chunked answer: its
   * first chunk), then destroys the connection. Call before the handler writes anything.
   */
  shapeAnswer(kind: 'timeout' | 'reset', res: ServerResponse, timeoutMs: number): void {
    if (kind === 'timeout') delayAnswer(res, timeoutMs);
    else cutAnswer(res);
  }

  private moveInFlight(t: number, delta: number): void {
    this.traffic.inFlightMs += this.inFlight * (t - this.lastChange);
    this.lastChange = t;
    this.inFlight += delta;
    this.traffic.maxInFlight = Math.max(this.traffic.maxInFlight, this.inFlight);
  }

  private async emit(event: ObservedRequest): Promise<void> {
    for (const observer of this.observers) await observer(event);
  }

  /** Emits `bodyHalfSent` once half of the answer's declared content-length has been written. */
  private watchHalfBody(route: string, req: IncomingMessage, res: ServerResponse): void {
    const declaredLength = watchDeclaredLength(res);
    let sent = 0;
    let fired = false;
    const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
    res.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      const ok = write(chunk, ...rest);
      if (!fired && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
        sent += Buffer.byteLength(chunk);
        const total = declaredLength();
        // Chunked (no declared length): the first chunk stands for "part of the body is out".
        if (!(Number.isFinite(total) && total > 0) || sent * 2 >= total) {
          fired = true;
          void this.emit({ route, phase: 'bodyHalfSent', method: req.method ?? 'GET', url: req.url ?? '' });
        }
      }
      return ok;
    }) as ServerResponse['write'];
  }
}

type Writer = (...args: unknown[]) => unknown;

/** Holds every writeHead/write/end on `res` for `ms`, then replays them in order. */
function delayAnswer(res: ServerResponse, ms: number): void {
  const queue: Array<() => void> = [];
  let released = false;
  const original = { writeHead: res.writeHead.bind(res) as Writer, write: res.write.bind(res) as Writer, end: res.end.bind(res) as Writer };
  const hold =
    (name: keyof typeof original) =>
    (...args: unknown[]): unknown => {
      if (released) return original[name](...args);
      queue.push(() => {
        if (!res.destroyed) original[name](...args);
      });
      return name === 'writeHead' || name === 'end' ? res : true;
    };
  res.writeHead = hold('writeHead') as ServerResponse['writeHead'];
  res.write = hold('write') as ServerResponse['write'];
  res.end = hold('end') as ServerResponse['end'];
  const timer = setTimeout(() => {
    released = true;
    for (const replay of queue.splice(0)) replay();
  }, ms);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}

/** The content-length an answer declares, whether set with setHeader or passed to writeHead. */
function watchDeclaredLength(res: ServerResponse): () => number {
  let declared: number | undefined;
  const writeHead = res.writeHead.bind(res) as Writer;
  res.writeHead = ((...args: unknown[]): ServerResponse => {
    const headers = args.find((a): a is Record<string, unknown> => typeof a === 'object' && a !== null && !Array.isArray(a));
    const value = headers ? Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-length')?.[1] : undefined;
    if (value !== undefined) declared = Number(value);
    writeHead(...args);
    return res;
  });
  return () => declared ?? Number(res.getHeader('content-length'));
}

/**
 * Lets the head and half of the declared body out (a chunked answer: its first chunk), then destroys the
 * socket: a connection reset mid-answer.
 */
function cutAnswer(res: ServerResponse): void {
  const declaredLength = watchDeclaredLength(res);
  const write = res.write.bind(res) as Writer;
  let sent = 0;
  let cut = false;
  const drop = (): void => {
    cut = true;
    // Let the bytes written reach the socket, then drop the connection without a proper end.
    setImmediate(() => res.socket?.destroy());
  };
  const pass = (chunk: unknown): void => {
    if (cut) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk) : Buffer.alloc(0);
    if (buf.length === 0) return;
    const declared = declaredLength();
    if (!(Number.isFinite(declared) && declared > 1)) {
      // Chunked: the first chunk goes out whole, the connection drops before the next.
      if (sent > 0) return drop();
      sent += buf.length;
      write(buf);
      return;
    }
    const room = Math.floor(declared / 2) - sent;
    if (buf.length < room) {
      sent += buf.length;
      write(buf);
      return;
    }
    if (room > 0) write(buf.subarray(0, room));
    drop();
  };
  res.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    pass(chunk);
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]): ServerResponse => {
    if (chunk !== undefined && typeof chunk !== 'function') pass(chunk);
    if (!cut) drop();
    const callback = [chunk, ...rest].find((r): r is () => void => typeof r === 'function');
    callback?.();
    return res;
  }) as ServerResponse['end'];
}
