/**
 * The HTTP transport orbit-sync gives jsforce's Connection (and its OAuth client).
 *
 * jsforce 3.10 pipes a response body with `Readable.fromWeb(res.body).pipe(output)`; when the connection
 * drops half-way through an answer, that Readable's 'error' has no listener and the whole process dies
 * (found by the chaos suite's connection-reset fault: "TypeError: terminated … other side closed").
 * This transport sends the same request with Node's fetch and reads the whole answer before handing it to
 * jsforce, so a dropped connection is an ordinary rejected call, which SalesforceApi retries (every write
 * it sends is an upsert on an external id or an update by Id, so a retry is safe). jsforce buffers every
 * answer whole anyway (readAll), so nothing is lost by reading it here.
 *
 * It does not retry by itself (jsforce retries GETs 5 times with up to 15 s of waits): SalesforceApi's one
 * retry policy applies to every call. Redirects are followed as jsforce does (GET, same headers, ≤ 10).
 */
import type { Duplex } from 'node:stream';
import { createHttpRequestHandlerStreams } from 'jsforce/lib/request-helper';
import Transport from 'jsforce/lib/transport';
import type { HttpRequest, HttpRequestOptions } from 'jsforce/lib/types';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
/** jsforce's own default: an answer still missing after 30 minutes is given up. */
const DEFAULT_TIMEOUT_MS = 1_800_000;

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.isBuffer(part) ? part : Buffer.from(String(part)));
  return Buffer.concat(parts);
}

interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
}

async function fetchWhole(req: HttpRequest, body: Buffer | undefined, timeoutMs: number): Promise<Answer> {
  let request: { url: string; method: string; headers: Record<string, string>; body: Buffer | undefined } = { url: req.url, method: req.method, headers: req.headers ?? {}, body };
  for (let hop = 0; ; hop += 1) {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined && { body: request.body }),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const location = res.headers.get('location');
    if (REDIRECTS.has(res.status) && location !== null && hop < MAX_REDIRECTS) {
      await res.arrayBuffer().catch(() => undefined);
      request = { url: new URL(location, request.url).toString(), method: 'GET', headers: request.headers, body: undefined };
      continue;
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    // The whole answer, before jsforce sees any of it: a connection dropped mid-body rejects here.
    return { statusCode: res.status, headers, body: Buffer.from(await res.arrayBuffer()) };
  }
}

function safeRequest(req: HttpRequest, options: HttpRequestOptions = {}): Duplex {
  const { input, output, stream } = createHttpRequestHandlerStreams(req, options);
  // As jsforce does: a POST, PUT or PATCH sends what is written to the request stream (`req.body`, or data
  // piped in, as a Bulk 2.0 upload does), up to its end.
  const hasBody = /^(post|put|patch)$/i.test(req.method);
  void (async () => {
    let answer: Answer;
    try {
      const body = hasBody ? await readStream(input) : undefined;
      answer = await fetchWhole(req, body, options.timeout ?? DEFAULT_TIMEOUT_MS);
    } catch (err) {
      // Named so SalesforceApi tells a connection failure (retried) from a refusal.
      const cause = err instanceof Error ? err : new Error(String(err));
      const detail = (cause.cause as { code?: string; message?: string } | undefined)?.code ?? cause.message;
      stream.emit('error', Object.assign(new Error(`the connection to Salesforce failed: ${cause.name === 'TimeoutError' ? 'no answer in time' : detail}`, { cause }), { errorCode: 'NETWORK_ERROR' }));
      return;
    }
    stream.emit('response', { statusCode: answer.statusCode, headers: answer.headers });
    output.end(answer.body);
  })();
  return stream;
}

export class SafeTransport extends Transport {
  override getRequestStreamCreator(): (req: HttpRequest, options: HttpRequestOptions) => Duplex {
    return safeRequest;
  }
}
