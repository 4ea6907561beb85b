import { createHmac, randomBytes } from 'node:crypto';
import { signHubspotWebhookV3 } from '../../../src/sandbox/hubspot/server';
import {
  hubspotSignedUri,
  sameSecret,
  signLeadpipeTrigger,
  signState,
  stateId,
  verifyHubspotV3,
  verifyLeadpipeTrigger,
  type HubspotV3Input,
} from '../../../src/security/signatures';

const CLIENT_SECRET = 'hubspot-client-secret-0123456789';
const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const TOLERANCE = 5 * 60_000;
const URI = 'https://orbit.example.com/webhooks/hubspot';
const BODY = JSON.stringify([{ eventId: 1, portalId: 123, subscriptionType: 'contact.creation', objectId: 501, occurredAt: NOW - 1000 }]);

/** What HubSpot would send: signed by the sandbox's own signer, not by the code under test. */
function hubspotRequest(overrides: Partial<HubspotV3Input> = {}, signed: { uri?: string; body?: string; timestamp?: number } = {}): HubspotV3Input {
  const timestamp = signed.timestamp ?? NOW - 2000;
  return {
    clientSecret: CLIENT_SECRET,
    method: 'POST',
    uri: URI,
    rawBody: Buffer.from(BODY),
    signature: signHubspotWebhookV3({ clientSecret: CLIENT_SECRET, method: 'POST', uri: signed.uri ?? URI, body: signed.body ?? BODY, timestamp }),
    timestamp: String(timestamp),
    nowMs: NOW,
    toleranceMs: TOLERANCE,
    ...overrides,
  };
}

function refusal(verdict: ReturnType<typeof verifyHubspotV3>): string | undefined {
  return verdict.ok ? undefined : verdict.reason;
}

describe('verifyHubspotV3', () => {
  it('accepts what HubSpot’s signer produces for the same URL, body and timestamp', () => {
    expect(verifyHubspotV3(hubspotRequest())).toEqual({ ok: true });
    // A non-ASCII body is signed over its UTF-8 bytes on both sides.
    const body = JSON.stringify([{ eventId: 2, portalId: 123, subscriptionType: 'contact.propertyChange', propertyName: 'firstname', propertyValue: 'Zoë Ångström' }]);
    expect(verifyHubspotV3(hubspotRequest({ rawBody: Buffer.from(body, 'utf8') }, { body }))).toEqual({ ok: true });
    // The method is compared upper-cased, as HubSpot signs it.
    expect(verifyHubspotV3(hubspotRequest({ method: 'post' }))).toEqual({ ok: true });
  });

  it('refuses a body changed after signing', () => {
    const tampered = BODY.replace('"objectId":501', '"objectId":502');
    expect(tampered).not.toBe(BODY);
    expect(refusal(verifyHubspotV3(hubspotRequest({ rawBody: Buffer.from(tampered) })))).toMatch(/does not match/);
    expect(refusal(verifyHubspotV3(hubspotRequest({ rawBody: Buffer.alloc(0) })))).toMatch(/does not match/);
  });

  it('refuses a signature made for another URL (path, query or host)', () => {
    for (const uri of [`${URI}?x=1`, 'https://orbit.example.com/webhooks/salesforce', 'https://evil.example.com/webhooks/hubspot']) {
      expect([uri, refusal(verifyHubspotV3(hubspotRequest({ uri })))]).toEqual([uri, expect.stringMatching(/does not match/)]);
    }
  });

  it('refuses a signature made with another client secret', () => {
    expect(refusal(verifyHubspotV3(hubspotRequest({ clientSecret: 'another-apps-secret-0123456789' })))).toMatch(/does not match/);
  });

  it('refuses a timestamp older than the tolerance, and one far in the future, even when correctly signed', () => {
    const stale = NOW - TOLERANCE - 1000;
    expect(refusal(verifyHubspotV3(hubspotRequest({}, { timestamp: stale })))).toMatch(/old/);
    const future = NOW + TOLERANCE + 60_000;
    expect(refusal(verifyHubspotV3(hubspotRequest({}, { timestamp: future })))).toMatch(/future/);
    // Just inside the window on either side is fine (clock skew).
    expect(verifyHubspotV3(hubspotRequest({}, { timestamp: NOW - TOLERANCE + 1000 }))).toEqual({ ok: true });
    expect(verifyHubspotV3(hubspotRequest({}, { timestamp: NOW + 30_000 }))).toEqual({ ok: true });
  });

  it('refuses a timestamp header that was changed after signing', () => {
    expect(refusal(verifyHubspotV3(hubspotRequest({ timestamp: String(NOW - 1000) })))).toMatch(/does not match/);
  });

  it('refuses a missing signature or timestamp header, and a timestamp that is not milliseconds', () => {
    expect(refusal(verifyHubspotV3(hubspotRequest({ signature: undefined })))).toMatch(/X-HubSpot-Signature-v3/);
    expect(refusal(verifyHubspotV3(hubspotRequest({ signature: '' })))).toMatch(/X-HubSpot-Signature-v3/);
    expect(refusal(verifyHubspotV3(hubspotRequest({ timestamp: undefined })))).toMatch(/X-HubSpot-Request-Timestamp/);
    expect(refusal(verifyHubspotV3(hubspotRequest({ timestamp: 'yesterday' })))).toMatch(/X-HubSpot-Request-Timestamp/);
  });

  it('refuses a signature of the right length that is wrong, and one that is not the right length', () => {
    const good = hubspotRequest();
    const wrong = randomBytes(32).toString('base64');
    expect(wrong).toHaveLength(good.signature?.length ?? 0);
    expect(refusal(verifyHubspotV3({ ...good, signature: wrong }))).toMatch(/does not match/);
    expect(refusal(verifyHubspotV3({ ...good, signature: (good.signature ?? '').slice(0, 20) }))).toMatch(/does not match/);
    expect(refusal(verifyHubspotV3({ ...good, signature: '!!! not base64 !!!' }))).toMatch(/does not match|base64/);
  });

  it('decodes the escapes HubSpot lists in the URI before checking (%3A, %2F, %3F, %40, … in either case)', () => {
    expect(hubspotSignedUri('https://x.example.com/a%3Ab%2Fc%3Fd%40e%21f%24g%27h%28i%29j%2Ak%2Cl%3Bm')).toBe("https://x.example.com/a:b/c?d@e!f$g'h(i)j*k,l;m");
    expect(hubspotSignedUri('https://x.example.com/a%3ab%2fc')).toBe('https://x.example.com/a:b/c');
    // Escapes HubSpot does not list stay as they are.
    expect(hubspotSignedUri('https://x.example.com/a%20b%26c%3D')).toBe('https://x.example.com/a%20b%26c%3D');

    // The URL the server sees (escaped) verifies against the signature HubSpot made, and vice versa.
    const escaped = 'https://orbit.example.com/webhooks/hubspot?portal%3A=123&from=a%40b%2Cc';
    expect(verifyHubspotV3(hubspotRequest({ uri: escaped }, { uri: escaped }))).toEqual({ ok: true });
    expect(verifyHubspotV3(hubspotRequest({ uri: escaped }, { uri: 'https://orbit.example.com/webhooks/hubspot?portal:=123&from=a@b,c' }))).toEqual({ ok: true });
    // An unlisted escape is part of what is signed: decoding it on one side only breaks the signature.
    expect(verifyHubspotV3(hubspotRequest({ uri: `${URI}?q=a%20b` }, { uri: `${URI}?q=a b` })).ok).toBe(false);
  });
});

describe('Leadpipe trigger signature', () => {
  const SECRET = 'leadpipe-trigger-secret-0123456789';
  const body = Buffer.from(JSON.stringify({ audienceId: 'aud_1', runId: 'run_1' }));
  const verify = (header: string | undefined, overrides: { rawBody?: Buffer; secret?: string; nowMs?: number } = {}): ReturnType<typeof verifyLeadpipeTrigger> =>
    verifyLeadpipeTrigger({ secret: SECRET, header, rawBody: body, nowMs: NOW, toleranceMs: TOLERANCE, ...overrides });

  it('round-trips: a header signed with the secret verifies, for a Buffer or a string body', () => {
    const header = signLeadpipeTrigger(SECRET, body, NOW - 1000);
    expect(header).toMatch(/^t=\d{13},v1=[0-9a-f]{64}$/);
    expect(verify(header)).toEqual({ ok: true });
    expect(verify(signLeadpipeTrigger(SECRET, body.toString('utf8'), NOW))).toEqual({ ok: true });
    expect(verify(` ${header} `)).toEqual({ ok: true });
  });

  it('is the documented format: t=<ms>,v1=hex(HMAC-SHA256(secret, t + "." + body))', () => {
    const t = NOW - 5000;
    const mac = createHmac('sha256', SECRET).update(`${t}.${body.toString('utf8')}`).digest('hex');
    expect(verify(`t=${t},v1=${mac}`)).toEqual({ ok: true });
    expect(signLeadpipeTrigger(SECRET, body, t)).toBe(`t=${t},v1=${mac}`);
  });

  it('refuses another body, another secret, a replayed old header, a missing or malformed header, and a wrong MAC', () => {
    const header = signLeadpipeTrigger(SECRET, body, NOW);
    expect(verify(header, { rawBody: Buffer.from(JSON.stringify({ audienceId: 'aud_1', runId: 'run_2' })) }).ok).toBe(false);
    expect(verify(header, { secret: 'another-secret-0123456789abcdef' }).ok).toBe(false);
    expect(verify(signLeadpipeTrigger('another-secret-0123456789abcdef', body, NOW)).ok).toBe(false);
    expect(verify(signLeadpipeTrigger(SECRET, body, NOW - TOLERANCE - 1000))).toEqual({ ok: false, reason: expect.stringMatching(/window/) as unknown });
    expect(verify(signLeadpipeTrigger(SECRET, body, NOW + TOLERANCE + 1000))).toEqual({ ok: false, reason: expect.stringMatching(/window/) as unknown });
    expect(verify(header, { nowMs: NOW + TOLERANCE + 1 }).ok).toBe(false);
    for (const bad of [undefined, '', 'v1=abc', `t=${NOW}`, `t=${NOW},v1=${'z'.repeat(64)}`, `t=${NOW},v1=${'a'.repeat(63)}`, `t=now,v1=${'a'.repeat(64)}`]) {
      expect([bad, verify(bad).ok]).toEqual([bad, false]);
    }
    // The right shape and timestamp, the wrong MAC.
    expect(verify(`t=${NOW},v1=${'0'.repeat(64)}`)).toEqual({ ok: false, reason: expect.stringMatching(/does not match/) as unknown });
    // The timestamp is part of what is signed: moving it breaks the MAC.
    const [, mac] = header.split(',v1=');
    expect(verify(`t=${NOW - 1},v1=${mac ?? ''}`).ok).toBe(false);
  });
});

describe('OAuth state', () => {
  const key = randomBytes(32);
  const id = randomBytes(24).toString('base64url');

  it('accepts its own state and gives back the id', () => {
    const state = signState(key, id);
    expect(state.startsWith(`${id}.`)).toBe(true);
    expect(stateId(key, state)).toBe(id);
  });

  it('refuses a state signed with another key, or altered', () => {
    expect(stateId(randomBytes(32), signState(key, id))).toBeUndefined();
    const state = signState(key, id);
    const [sid, mac] = state.split('.') as [string, string];
    const otherId = randomBytes(24).toString('base64url');
    expect(stateId(key, `${otherId}.${mac}`)).toBeUndefined();
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    expect(stateId(key, `${sid}.${flipped}`)).toBeUndefined();
  });

  it('refuses a malformed state', () => {
    const state = signState(key, id);
    for (const bad of [undefined, '', id, `${id}.`, `.${state.split('.')[1] ?? ''}`, `${state}.extra`, `short.${state.split('.')[1] ?? ''}`, `${state}=`]) {
      expect([bad, stateId(key, bad)]).toEqual([bad, undefined]);
    }
  });
});

describe('sameSecret', () => {
  it('is equality of the secrets, whatever their lengths', () => {
    expect(sameSecret('s3cret-value', 's3cret-value')).toBe(true);
    expect(sameSecret('s3cret-value', 's3cret-valuE')).toBe(false);
    expect(sameSecret('s3cret', 's3cret-value')).toBe(false);
    expect(sameSecret('', 's3cret-value')).toBe(false);
    expect(sameSecret('', '')).toBe(true);
  });
});
