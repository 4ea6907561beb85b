/** HTTP helpers shared by the sandboxes' servers: request bodies, zod errors, routing. */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';

/** The request body as UTF-8 text, refusing (with the sandbox's own error) a body over `maxBytes`. */
export async function readBodyText(req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    const buf = Buffer.isBuffer(part) ? part : Buffer.from(String(part));
    size += buf.length;
    if (size > maxBytes) throw tooLarge();
    parts.push(buf);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A zod error as one line: `path: message; …`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

export interface RouteSpec<R extends string> {
  route: R;
  method: string;
  pattern: RegExp;
}

/**
 * The route a request hits: its name and decoded path parameters; 'method-not-allowed' when the path
 * exists under another method (405); null when nothing matches or a parameter's percent-encoding is
 * malformed (404: no such resource).
 */
export function matchRoute<R extends string>(
  routes: readonly RouteSpec<R>[],
  method: string,
  pathname: string,
): { route: R; params: string[] } | 'method-not-allowed' | null {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    try {
      return { route: r.route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
    } catch {
      return null;
    }
  }
  return pathMatched ? 'method-not-allowed' : null;
}

/**
 * Starts `server` on 127.0.0.1 (`port` 0: the OS picks a free one, so parallel test files never collide)
 * and returns its base URL and an idempotent `close` that also drops kept-alive connections (fetch keeps
 * them open; without that, close would wait for their idle timeout). `beforeClose` runs once, first.
 */
export async function listenOnLoopback(server: Server, port = 0, beforeClose?: () => void): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      beforeClose?.();
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
    return closing;
  };
  return { url: `http://127.0.0.1:${bound}`, close };
}
