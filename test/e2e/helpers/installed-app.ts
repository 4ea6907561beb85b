/** Shared steps of the installed-app end-to-end tests: a served app, OAuth installs through redirects, the admin API. */
import { createServer } from 'node:net';
import path from 'node:path';
import { loadConfig, type Config } from '../../../src/config';
import { runServeCommand } from '../../../src/commands/serve';
import { createLogger } from '../../../src/lib/logger';

export const ENCRYPTION_KEY = 'a1'.repeat(32);
export const ADMIN_TOKEN = 'admin-token-for-the-e2e-suite-0123456789';
export const HUBSPOT_CLIENT = { clientId: 'hs-client-e2e', clientSecret: 'hs-client-secret-e2e-0123456789' };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Served {
  url: string;
  config: Config;
  stop(): Promise<void>;
}

/** Every log line of every served app in this test file (the secrets check reads them). */
export const capturedLogs: string[] = [];

export async function serveInProcess(env: Record<string, string>): Promise<Served> {
  const config = loadConfig({ LOG_LEVEL: 'debug', ...env });
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let listening: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => (listening = resolve));
  const logger = createLogger({ level: 'debug', write: (line) => capturedLogs.push(line) });
  const done = runServeCommand(config, logger, { stop: stopped, onListening: listening, ...(env.PORT !== undefined && { port: Number(env.PORT) }) });
  const url = await Promise.race([ready, done.then(() => Promise.reject(new Error('serve stopped before listening')))]);
  return {
    url,
    config,
    stop: async () => {
      stop();
      await done;
    },
  };
}

export function appEnv(port: number, dir: string, extra: Record<string, string>): Record<string, string> {
  return {
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: path.join(dir, 'orbit-sync.db'),
    ENCRYPTION_KEY,
    ADMIN_TOKEN,
    SCHEDULE_CRON: '* * * * * *',
    ...extra,
  };
}

/** Follows the install's redirects by hand (the authorize page is the sandbox's): install → authorize → callback. */
export async function installThroughRedirects(startUrl: string): Promise<{ status: number; text: string; hops: string[] }> {
  const hops: string[] = [];
  let url = startUrl;
  for (let i = 0; i < 5; i++) {
    const res = await fetch(url, { redirect: 'manual', headers: { accept: 'application/json' } });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      url = new URL(location, url).toString();
      hops.push(url);
      continue;
    }
    return { status: res.status, text: await res.text(), hops };
  }
  throw new Error(`too many redirects: ${hops.join(' → ')}`);
}

export async function adminCall<T = Record<string, unknown>>(base: string, method: string, route: string, body?: unknown, token: string = ADMIN_TOKEN): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as T };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
