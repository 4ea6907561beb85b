/** Plain-fetch helpers for the HubSpot sandbox tests; every exchange can be checked against the specs. */
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { requestViolations, responseViolations } from '../../helpers/openapi';

export interface Json {
  [key: string]: unknown;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: Json;
}

export async function call(sb: HubspotSandbox, method: string, route: string, body?: unknown, token: string | null = sb.accessToken): Promise<CallResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${sb.url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

/**
 * A call whose request must match the spec's requestBody schema and whose answer must be a status the
 * spec lists, with a body matching that status's schema.
 */
export async function specCall(sb: HubspotSandbox, method: string, route: string, body?: unknown, token?: string | null): Promise<CallResult> {
  if (body !== undefined) expect(requestViolations(method, route, body)).toEqual([]);
  const res = await call(sb, method, route, body, token);
  expect(responseViolations(method, route, res.status, res.body)).toEqual([]);
  return res;
}

/** HubSpot's error body: status 'error', the category, a uuid correlationId, and the spec's `Error`. */
export function expectHubspotError(method: string, route: string, res: CallResult, status: number, category: string): void {
  expect(res.status).toBe(status);
  expect(res.body.status).toBe('error');
  expect(res.body.category).toBe(category);
  expect(res.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  expect(responseViolations(method, route, res.status, res.body)).toEqual([]);
}

export function resultsOf(res: CallResult): Array<{ id: string; properties: Record<string, string>; new?: boolean } & Json> {
  return res.body.results as Array<{ id: string; properties: Record<string, string>; new?: boolean } & Json>;
}

export function errorsOf(res: CallResult): Array<{ category: string; message: string; context: Record<string, string[]> } & Json> {
  return (res.body.errors ?? []) as Array<{ category: string; message: string; context: Record<string, string[]> } & Json>;
}
