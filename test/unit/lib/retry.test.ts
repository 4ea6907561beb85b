import { FixLeadpipeCredentialsError, FreeAudienceSlotError, SyncError } from '../../../src/lib/errors';
import { backoffDelayMs, decideRetry, parseRetryAfterMs, withRetry } from '../../../src/lib/retry';
import type { RetrySettings } from '../../../src/lib/retry';

const settings: RetrySettings = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 4000, maxRetryAfterMs: 300_000 };
const always = (r: number) => () => r;

const http5xx = () => new SyncError('UPSTREAM_5XX', 'Leadpipe failed with HTTP 503', { retryable: true, status: 503 });
const rateLimited = (retryAfterMs?: number) =>
  new SyncError('RATE_LIMITED', 'Leadpipe rate limit exceeded', { retryable: true, status: 429, retryAfterMs });

describe('decideRetry', () => {
  it('honours Retry-After on a 429 exactly, ignoring backoff and jitter', () => {
    expect(decideRetry({ attempt: 1, error: rateLimited(1000), settings, random: always(0) })).toEqual({ retry: true, delayMs: 1000 });
    // Even above maxDelayMs: waiting less than the server asked would just earn another 429.
    expect(decideRetry({ attempt: 3, error: rateLimited(60_000), settings, random: always(0.9) })).toEqual({ retry: true, delayMs: 60_000 });
  });

  it('does not sleep through a Retry-After longer than maxRetryAfterMs', async () => {
    expect(decideRetry({ attempt: 1, error: rateLimited(86_400_000), settings, random: always(0) })).toEqual({ retry: false, delayMs: 0 });
    const sleep = jest.fn(() => Promise.resolve());
    const attempt = jest.fn(() => Promise.reject(rateLimited(86_400_000)));
    const err = await withRetry(attempt, { settings, sleep }).catch((e: unknown) => e);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(sleep).not.toHaveBeenCalled();
    expect(err).toMatchObject({ code: 'RATE_LIMITED' });
    expect((err as Error).message).toMatch(/asked to wait 86400 s, longer than retry\.maxRetryAfterMs \(300 s\)/);
  });

  it('falls back to backoff on a 429 without Retry-After', () => {
    expect(decideRetry({ attempt: 2, error: rateLimited(), settings, random: always(1) })).toEqual({ retry: true, delayMs: 1000 });
  });

  it.each([
    // attempt, random, expected delay: min(4000, 500 × 2^(attempt−1)) × random
    [1, 1, 500],
    [2, 1, 1000],
    [3, 1, 2000],
    [4, 1, 4000],
    [1, 0.5, 250],
    [3, 0.25, 500],
    [2, 0, 0],
  ])('attempt %i with random %d waits %i ms', (attempt, random, expected) => {
    expect(decideRetry({ attempt, error: http5xx(), settings, random: always(random) })).toEqual({ retry: true, delayMs: expected });
  });

  it('caps the backoff at maxDelayMs however many attempts have failed', () => {
    const many: RetrySettings = { maxAttempts: 20, baseDelayMs: 500, maxDelayMs: 4000, maxRetryAfterMs: 300_000 };
    for (let attempt = 4; attempt < 20; attempt++) {
      expect(decideRetry({ attempt, error: http5xx(), settings: many, random: always(0.999999) }).delayMs).toBeLessThanOrEqual(4000);
    }
    expect(backoffDelayMs(19, many, always(1))).toBe(4000);
  });

  it('keeps full jitter within [0, ceiling] even when random misbehaves', () => {
    expect(backoffDelayMs(2, settings, always(-3))).toBe(0);
    expect(backoffDelayMs(2, settings, always(7))).toBe(1000);
    for (const r of [0, 0.1, 0.33, 0.5, 0.77, 0.999]) {
      const delay = backoffDelayMs(3, settings, always(r));
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(2000);
    }
  });

  it.each([
    ['NETWORK', new SyncError('NETWORK', 'ECONNRESET', { retryable: true })],
    ['TIMEOUT', new SyncError('TIMEOUT', 'no response', { retryable: true })],
  ])('retries %s with backoff', (_code, error) => {
    expect(decideRetry({ attempt: 1, error, settings, random: always(1) })).toEqual({ retry: true, delayMs: 500 });
  });

  it.each([
    ['401', new FixLeadpipeCredentialsError('AUTH_INVALID', 'key rejected', { status: 401 })],
    ['403', new FixLeadpipeCredentialsError('AUTH_FORBIDDEN', 'revoked', { status: 403 })],
    ['403 SLOTS_FULL', new FreeAudienceSlotError('SLOTS_FULL', 'slots full', { status: 403 })],
    ['404', new SyncError('NOT_FOUND', 'no audience', { status: 404 })],
    ['409', new SyncError('RUN_NOT_SERVABLE', 'run failed', { status: 409 })],
    ['400', new SyncError('BAD_REQUEST', 'bad limit', { status: 400 })],
  ])('never retries %s', (_label, error) => {
    expect(decideRetry({ attempt: 1, error, settings, random: always(0.5) })).toEqual({ retry: false, delayMs: 0 });
  });

  it('stops once maxAttempts attempts have been made', () => {
    expect(decideRetry({ attempt: 4, error: http5xx(), settings, random: always(0.5) }).retry).toBe(true);
    expect(decideRetry({ attempt: 5, error: http5xx(), settings, random: always(0.5) })).toEqual({ retry: false, delayMs: 0 });
    expect(decideRetry({ attempt: 5, error: rateLimited(1000), settings, random: always(0.5) })).toEqual({ retry: false, delayMs: 0 });
  });

  it('does not retry at all when maxAttempts is 1', () => {
    expect(decideRetry({ attempt: 1, error: http5xx(), settings: { ...settings, maxAttempts: 1 }, random: always(0.5) }).retry).toBe(false);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-05-05T09:00:00.000Z');
  it.each([
    ['1', 1000],
    ['0', 0],
    [' 120 ', 120_000],
    ['1.5', 1500],
    ['Tue, 05 May 2026 09:00:30 GMT', 30_000],
    ['Tue, 05 May 2026 08:59:00 GMT', 0],
  ])('%p → %p ms', (header, expected) => {
    expect(parseRetryAfterMs(header, now)).toBe(expected);
  });

  it.each([[null], [undefined], [''], ['soon'], ['-5']])('%p → undefined (backoff applies)', (header) => {
    expect(parseRetryAfterMs(header, now)).toBeUndefined();
  });

  it('cannot convert an HTTP-date without a clock', () => {
    expect(parseRetryAfterMs('Tue, 05 May 2026 09:00:30 GMT')).toBeUndefined();
  });
});

describe('withRetry', () => {
  it('retries until success, sleeping the decided delays', async () => {
    const sleep = jest.fn((_ms: number) => Promise.resolve());
    const onRetry = jest.fn();
    let calls = 0;
    const result = await withRetry(
      (attempt) => {
        calls++;
        if (attempt === 1) return Promise.reject(rateLimited(1000));
        if (attempt === 2) return Promise.reject(http5xx());
        return Promise.resolve('ok');
      },
      { settings, sleep, random: always(0.5), onRetry },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(sleep.mock.calls).toEqual([[1000], [500]]);
    expect(onRetry).toHaveBeenCalledTimes(2);
    expect(onRetry).toHaveBeenNthCalledWith(1, expect.objectContaining({ attempt: 1, delayMs: 1000 }));
  });

  it('gives up after maxAttempts and says so, keeping code, status and request id', async () => {
    const sleep = jest.fn((_ms: number) => Promise.resolve());
    let calls = 0;
    const err = await withRetry(
      () => {
        calls++;
        return Promise.reject(new SyncError('UPSTREAM_5XX', 'Leadpipe failed with HTTP 500', { retryable: true, status: 500, requestId: 'req_1' }));
      },
      { settings: { ...settings, maxAttempts: 3 }, sleep, random: always(1) },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(sleep.mock.calls).toEqual([[500], [1000]]);
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ code: 'UPSTREAM_5XX', status: 500, requestId: 'req_1' });
    expect((err as SyncError).message).toMatch(/gave up after 3 attempts/);
  });

  it('rethrows a non-retryable error at once, unchanged', async () => {
    const sleep = jest.fn((_ms: number) => Promise.resolve());
    const original = new FixLeadpipeCredentialsError('AUTH_INVALID', 'key rejected', { status: 401 });
    let calls = 0;
    await expect(
      withRetry(
        () => {
          calls++;
          return Promise.reject(original);
        },
        { settings, sleep },
      ),
    ).rejects.toBe(original);
    expect(calls).toBe(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('does not retry errors that are not SyncErrors (programming errors)', async () => {
    const sleep = jest.fn((_ms: number) => Promise.resolve());
    const bug = new TypeError('undefined is not a function');
    await expect(withRetry(() => Promise.reject(bug), { settings, sleep })).rejects.toBe(bug);
    expect(sleep).not.toHaveBeenCalled();
  });
});
