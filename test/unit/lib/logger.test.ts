import { createLogger, displayValue, scrubText } from '../../../src/lib/logger';

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

  it('scrubs addresses inside text', () => {
    expect(scrubText('from a.b+c@sub.example.co.uk to x')).toBe('from [email] to x');
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
