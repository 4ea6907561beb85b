import { createLogger, displayValue, scrubText, silentLogger } from '../../../src/lib/logger';

describe('logger', () => {
  const clock = () => new Date('2026-11-23T12:00:00.000Z');

  it('writes one JSON line per record with the bound fields', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), clock }).child({ audienceId: 'a1' });
    log.info('sync started', { runId: 'r1' });
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      time: '2026-11-23T12:00:00.000Z',
      level: 'info',
      msg: 'sync started',
      audienceId: 'a1',
      runId: 'r1',
    });
  });

  it('never writes email addresses or secrets', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), clock });
    log.warn('bad row for Jane.Doe@Acme.com', {
      apiKey: 'sk_live_secret',
      headers: { Authorization: 'Bearer abc', 'x-api-key': 'sk_live_secret' },
      detail: 'contact jane@acme.io exists',
      err: new Error('duplicate of bob@example.org'),
    });
    const out = lines.join('\n');
    expect(out).not.toMatch(/@acme|@example|sk_live|Bearer/i);
    expect(out).toContain('[email]');
    expect(out).toContain('[redacted]');
  });

  it('drops records under the level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l), clock });
    log.info('quiet');
    log.error('loud');
    expect(lines).toHaveLength(1);
  });

  const capture = (level?: 'debug' | 'info' | 'warn' | 'error' | 'silent') => {
    const lines: string[] = [];
    const log = createLogger({ ...(level === undefined ? {} : { level }), write: (l) => lines.push(l), clock });
    return { lines, log, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
  };

  it('writes each record as one line of valid JSON starting with time, level and msg', () => {
    const { lines, log } = capture();
    log.info('first', { n: 1, list: [1, 'two'], when: new Date('2026-01-02T03:04:05.000Z') });
    log.error('second');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain('\n');
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(record).slice(0, 3)).toEqual(['time', 'level', 'msg']);
      expect(record.time).toBe('2026-11-23T12:00:00.000Z');
    }
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      time: '2026-11-23T12:00:00.000Z',
      level: 'info',
      msg: 'first',
      n: 1,
      list: [1, 'two'],
      when: '2026-01-02T03:04:05.000Z',
    });
    expect(JSON.parse(lines[1] ?? '')).toEqual({ time: '2026-11-23T12:00:00.000Z', level: 'error', msg: 'second' });
  });

  it('uses the clock for time', () => {
    const lines: string[] = [];
    let now = '2026-01-01T00:00:01.000Z';
    const log = createLogger({ write: (l) => lines.push(l), clock: () => new Date(now) });
    log.info('a');
    now = '2026-01-01T00:00:02.000Z';
    log.info('b');
    expect(lines.map((l) => (JSON.parse(l) as { time: string }).time)).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z']);
  });

  it('redacts secret-bearing fields at any depth', () => {
    const { lines, records, log } = capture();
    log.info('token refreshed', {
      connectionId: 'c1',
      accessToken: 'at-top-secret',
      oauth: { refresh_token: 'rt-secret', expiresIn: 1800, client: { clientSecret: 'cs-secret', clientId: 'public-id' } },
      leadpipe: { apiKey: 'lp-secret' },
      request: { headers: { 'x-hubspot-signature-v3': 'sig-secret', 'X-HubSpot-Signature': 'sig2-secret', 'content-type': 'application/json' } },
      req: { headers: { authorization: 'Bearer hdr-secret', cookie: 'sid=cookie-secret' } },
      items: [{ password: 'pw-secret' }],
    });
    const out = lines.join('\n');
    expect(out).not.toMatch(/secret/);
    expect(records()[0]).toMatchObject({
      connectionId: 'c1',
      accessToken: '[redacted]',
      oauth: { refresh_token: '[redacted]', expiresIn: 1800, client: { clientSecret: '[redacted]', clientId: 'public-id' } },
      leadpipe: { apiKey: '[redacted]' },
      request: { headers: { 'x-hubspot-signature-v3': '[redacted]', 'X-HubSpot-Signature': '[redacted]', 'content-type': 'application/json' } },
      req: { headers: { authorization: '[redacted]', cookie: '[redacted]' } },
      items: [{ password: '[redacted]' }],
    });
  });

  it('masks emails in the message, in nested strings, in errors and in keys', () => {
    const { lines, records, log } = capture();
    log.warn('duplicate for jane.doe@acme.com and Bob@Example.org', {
      person: { notes: ['met x.y+z@sub.example.co.uk'], meta: { by: 'owner@acme.io' } },
      byEmail: { 'ann@acme.com': 3 },
      err: new TypeError('no contact ann@acme.com'),
    });
    expect(lines.join('\n')).not.toMatch(/@acme|@example|@sub/i);
    expect(records()[0]).toMatchObject({
      msg: 'duplicate for [email] and [email]',
      person: { notes: ['met [email]'], meta: { by: '[email]' } },
      byEmail: { '[email]': 3 },
      err: { name: 'TypeError', message: 'no contact [email]' },
    });
  });

  it('masks bearer credentials, signed-URL parameters and signatures inside strings', () => {
    const { lines, records, log } = capture();
    const hexSignature = 'ab'.repeat(32);
    const v3Signature = `${'Q'.repeat(43)}=`;
    log.error('call failed: Authorization: Bearer abc.def', {
      detail: 'sent bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln to the API',
      url: 'https://f005.backblazeb2.com/file/x.csv?Authorization=3_2026_abc_sig&other=1',
      callback: '/oauth/callback?code=one-time-code&state=s1',
      header: `X-HubSpot-Signature-v3: ${v3Signature}`,
      legacy: `signature ${hexSignature} did not match`,
      key: 'sk_live_51HxABCDEF0123456789',
    });
    const out = lines.join('\n');
    for (const leak of ['abc.def', 'eyJ', '3_2026_abc_sig', 'one-time-code', v3Signature, hexSignature, 'sk_live']) expect(out).not.toContain(leak);
    expect(records()[0]).toMatchObject({
      msg: 'call failed: Authorization: Bearer [redacted]',
      detail: 'sent bearer [redacted] to the API',
      url: 'https://f005.backblazeb2.com/file/x.csv?Authorization=[redacted]&other=1',
      callback: '/oauth/callback?code=[redacted]&state=s1',
      legacy: 'signature [redacted] did not match',
    });
  });

  it('filters by level and writes nothing when silent', () => {
    const debug = capture('debug');
    const warn = capture('warn');
    const silent = capture('silent');
    const byDefault = capture();
    for (const { log } of [debug, warn, silent, byDefault]) {
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
    }
    expect(debug.records().map((r) => r.level)).toEqual(['debug', 'info', 'warn', 'error']);
    expect(byDefault.records().map((r) => r.level)).toEqual(['info', 'warn', 'error']);
    expect(warn.records().map((r) => r.msg)).toEqual(['w', 'e']);
    expect(silent.lines).toEqual([]);
  });

  it('merges child fields: nested children add to them and the call wins on a clash', () => {
    const { records, log } = capture();
    const child = log.child({ component: 'leadpipe', runId: 'r1', owner: 'jane@acme.com', token: 'bound-secret' });
    child.child({ runId: 'r2', attempt: 1 }).info('retry', { attempt: 2 });
    child.info('plain');
    log.info('parent');
    expect(records()).toEqual([
      { time: '2026-11-23T12:00:00.000Z', level: 'info', msg: 'retry', component: 'leadpipe', runId: 'r2', owner: '[email]', token: '[redacted]', attempt: 2 },
      { time: '2026-11-23T12:00:00.000Z', level: 'info', msg: 'plain', component: 'leadpipe', runId: 'r1', owner: '[email]', token: '[redacted]' },
      { time: '2026-11-23T12:00:00.000Z', level: 'info', msg: 'parent' },
    ]);
  });

  it('keeps time, level and msg from the record when a field has the same name', () => {
    const { records, log } = capture();
    log.info('real', { level: 'fake', msg: 'other', time: 'then' });
    expect(records()[0]).toEqual({
      time: '2026-11-23T12:00:00.000Z',
      level: 'info',
      msg: 'real',
      'field.level': 'fake',
      'field.msg': 'other',
      'field.time': 'then',
    });
  });

  it('leaves printf-like characters in the message alone', () => {
    const { records, log } = capture();
    log.info('100%s done %d %%');
    expect(records()[0]?.msg).toBe('100%s done %d %%');
  });

  it('scrubs addresses inside text', () => {
    expect(scrubText('from a.b+c@sub.example.co.uk to x')).toBe('from [email] to x');
    // Addresses ingest accepts that an ASCII-only pattern missed (found by the property tests).
    expect(scrubText("jane'@acme.com, jane@acme.рф and x@xn--p1ai.xn--p1ai")).toBe('[email], [email] and [email]');
    expect(scrubText('3.5 @home, a@b.c')).toBe('3.5 @home, a@b.c');
  });
});

describe('silentLogger', () => {
  it('accepts every call, children included, without throwing', () => {
    expect(() => {
      silentLogger.error('x', { err: new Error('y') });
      silentLogger.child({ a: 1 }).info('z');
    }).not.toThrow();
  });
});

describe('displayValue', () => {
  it('masks emails and hashes and cuts long values, for messages that quote a cell', () => {
    expect(displayValue('jane@acme.com')).toBe('"[email]"');
    expect(displayValue('a'.repeat(64))).toBe('"[hash]"');
    expect(displayValue('abc')).toBe('"abc"');
    expect(displayValue('x'.repeat(50), 10)).toBe(`"${'x'.repeat(10)}…"`);
  });
});
