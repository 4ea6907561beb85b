/**
 * A loopback HTTP proxy in front of the Leadpipe sandbox that can stop a run's CSV export half-way.
 *
 * `export.csv` streams without a content-length (the sandbox generates it as it sends it), so the
 * sandbox's own `bodyHalfSent` hook never fires for it. The tap forwards every request unchanged and
 * counts the bytes of each `export.csv` answer: a complete one gives the export's size, and once armed
 * it holds the next export after half of that size, awaits the hook (which kills the process reading
 * it), then drops the connection. Point LEADPIPE_BASE_URL at `url`.
 */
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const EXPORT_PATH = /\/export\.csv(\?|$)/;
/** Hop-by-hop headers: each side of the proxy sets its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

export interface DownloadTap {
  url: string;
  /** Bytes of the last export.csv answer that was sent whole (undefined before one was). */
  exportBytes(): number | undefined;
  /**
   * The next export.csv answer stops after half of the last complete one's bytes: `hook` runs there (the
   * rest is not sent while it runs), then the connection is dropped. Resolves with the bytes sent by then.
   */
  armHalfway(hook: () => Promise<void>): Promise<number>;
  /** Cancels an armed stop that was not reached. */
  disarm(): void;
  close(): Promise<void>;
}

function forwardHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

export async function startDownloadTap(target: string): Promise<DownloadTap> {
  const upstream = new URL(target);
  let lastComplete: number | undefined;
  let armed: { hook: () => Promise<void>; resolve: (bytes: number) => void; reject: (err: Error) => void } | undefined;

  const relay = (req: IncomingMessage, res: ServerResponse, answer: IncomingMessage): void => {
    res.writeHead(answer.statusCode ?? 502, forwardHeaders(answer.headers));
    const isExport = EXPORT_PATH.test(req.url ?? '') && answer.statusCode === 200;
    const stop = isExport && armed !== undefined && lastComplete !== undefined ? { ...armed, at: Math.ceil(lastComplete / 2) } : undefined;
    if (stop) armed = undefined;
    let sent = 0;
    answer.on('data', (chunk: Buffer) => {
      if (res.destroyed) return;
      sent += chunk.length;
      res.write(chunk);
      if (stop && sent >= stop.at) {
        answer.pause();
        stop.hook().then(
          () => {
            answer.destroy();
            res.destroy();
            stop.resolve(sent);
          },
          (err: unknown) => {
            answer.destroy();
            res.destroy();
            stop.reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }
    });
    answer.on('end', () => {
      if (isExport && !stop) lastComplete = sent;
      res.end();
    });
    answer.on('error', () => res.destroy());
  };

  const server = createServer((req, res) => {
    const out = request(
      { protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...forwardHeaders(req.headers), host: upstream.host } },
      (answer) => relay(req, res, answer),
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    exportBytes: () => lastComplete,
    armHalfway(hook) {
      if (lastComplete === undefined) return Promise.reject(new Error('download tap: no export.csv went through whole yet, so its half is unknown'));
      return new Promise<number>((resolve, reject) => (armed = { hook, resolve, reject }));
    },
    disarm() {
      armed = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
