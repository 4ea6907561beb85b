/**
 * Verification of what the server receives, before anything is parsed or stored:
 *
 * - HubSpot webhook signature v3 (reference/hubspot.md §9): `base64(HMAC-SHA256(clientSecret,
 *   method + uri + rawBody + timestamp))` over the public URL HubSpot called (with the escapes HubSpot
 *   lists decoded), the timestamp (ms) no older than the tolerance, compared in constant time.
 * - Leadpipe trigger: header `X-Orbit-Signature: t=<ms>,v1=<hex HMAC-SHA256(secret, t + "." + rawBody)>`,
 *   the same timestamp window (our own format: Leadpipe has no run webhook, so the sender is the
 *   customer's automation, documented in the README).
 * - OAuth `state`: `<id>.<base64url HMAC-SHA256(key, "oauth-state." + id)>`; the id is also a single-use
 *   row in the store (src/store/oauth-states.ts).
 *
 * Each check answers why it failed, for the log; callers answer 401 without the reason.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Verdict = { ok: true } | { ok: false; reason: string };

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The URI HubSpot signs: these escapes are decoded first (HubSpot's request-validation guide). */
export function hubspotSignedUri(uri: string): string {
  const decoded: Record<string, string> = {
    '%3A': ':',
    '%2F': '/',
    '%3F': '?',
    '%40': '@',
    '%21': '!',
    '%24': '$',
    '%27': "'",
    '%28': '(',
    '%29': ')',
    '%2A': '*',
    '%2C': ',',
    '%3B': ';',
  };
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => decoded[m.toUpperCase()] ?? m);
}

export interface HubspotV3Input {
  clientSecret: string;
  method: string;
  /** The full public URL HubSpot called: PUBLIC_URL + path + query. */
  uri: string;
  rawBody: Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
  nowMs: number;
  toleranceMs: number;
}

export function verifyHubspotV3(input: HubspotV3Input): Verdict {
  if (!input.signature) return { ok: false, reason: 'no X-HubSpot-Signature-v3 header' };
  if (!input.timestamp || !/^\d{10,16}$/.test(input.timestamp)) return { ok: false, reason: 'no valid X-HubSpot-Request-Timestamp header' };
  const age = input.nowMs - Number(input.timestamp);
  if (age > input.toleranceMs) return { ok: false, reason: `timestamp is ${Math.round(age / 1000)} s old (more than ${input.toleranceMs / 1000} s)` };
  if (age < -input.toleranceMs) return { ok: false, reason: 'timestamp is in the future' };
  const hmac = createHmac('sha256', input.clientSecret);
  hmac.update(`${input.method.toUpperCase()}${hubspotSignedUri(input.uri)}`);
  hmac.update(input.rawBody);
  hmac.update(input.timestamp);
  const expected = hmac.digest();
  let given: Buffer;
  try {
    given = Buffer.from(input.signature, 'base64');
  } catch {
    return { ok: false, reason: 'signature is not base64' };
  }
  return sameBytes(given, expected) ? { ok: true } : { ok: false, reason: 'signature does not match the body and URL' };
}

export const LEADPIPE_SIGNATURE_HEADER = 'x-orbit-signature';

export function signLeadpipeTrigger(secret: string, rawBody: Buffer | string, timestampMs: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampMs}.`).update(rawBody).digest('hex');
  return `t=${timestampMs},v1=${mac}`;
}

export function verifyLeadpipeTrigger(input: { secret: string; header: string | undefined; rawBody: Buffer; nowMs: number; toleranceMs: number }): Verdict {
  const match = /^t=(\d{10,16}),v1=([0-9a-f]{64})$/.exec(input.header?.trim() ?? '');
  if (!match?.[1] || !match[2]) return { ok: false, reason: `no valid ${LEADPIPE_SIGNATURE_HEADER} header (t=<ms>,v1=<hex>)` };
  const t = Number(match[1]);
  if (Math.abs(input.nowMs - t) > input.toleranceMs) return { ok: false, reason: 'timestamp outside the allowed window' };
  const expected = createHmac('sha256', input.secret).update(`${t}.`).update(input.rawBody).digest();
  return sameBytes(Buffer.from(match[2], 'hex'), expected) ? { ok: true } : { ok: false, reason: 'signature does not match the body' };
}

function stateMac(key: Buffer, id: string): string {
  return createHmac('sha256', key).update(`oauth-state.${id}`).digest('base64url');
}

export function signState(key: Buffer, id: string): string {
  return `${id}.${stateMac(key, id)}`;
}

/** The state's id when its MAC is ours; undefined for a forged or malformed state. */
export function stateId(key: Buffer, state: string | undefined): string | undefined {
  const match = /^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/.exec(state ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  return sameBytes(Buffer.from(match[2]), Buffer.from(stateMac(key, match[1]))) ? match[1] : undefined;
}

/** Constant-time equality of two secrets of any length. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(expected).digest();
  return timingSafeEqual(a, b);
}
