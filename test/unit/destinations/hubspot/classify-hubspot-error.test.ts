import { classifyHubspotError } from '../../../../src/destinations/hubspot/hubspot-api';

function apiException(code: number, body: unknown): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body, headers: {} });
}

const ctx = { endpoint: 'POST /crm/v3/objects/contacts/batch/upsert', intervalMs: 10_000 };

describe('classifyHubspotError', () => {
  it.each([
    ['TEN_SECONDLY_ROLLING waits for the window', 429, { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', policyName: 'TEN_SECONDLY_ROLLING' }, 'RATE_LIMITED', true, 10_000],
    ['search "secondly" waits 1 s', 429, { status: 'error', message: 'You have reached your secondly limit.', errorType: 'RATE_LIMIT' }, 'RATE_LIMITED', true, 1000],
    ['DAILY stops the sync', 429, { status: 'error', message: 'You have reached your daily limit.', policyName: 'DAILY' }, 'DAILY_LIMIT_REACHED', false, undefined],
    ['423 waits 2 s', 423, { message: 'locked' }, 'CRM_LOCKED', true, 2000],
    ['5xx backs off', 502, { message: 'Bad gateway' }, 'UPSTREAM_5XX', true, undefined],
    ['401 says to fix the token', 401, { category: 'INVALID_AUTHENTICATION', message: 'Authentication credentials not found.' }, 'AUTH_INVALID', false, undefined],
    ['403 names the missing scopes', 403, { category: 'MISSING_SCOPES', message: 'This app lacks scopes', errors: [{ message: 'x', context: { requiredGranularScopes: ['crm.objects.deals.write'] } }] }, 'AUTH_FORBIDDEN', false, undefined],
    ['400 is a bad request, not retried', 400, { category: 'VALIDATION_ERROR', message: 'Property values were not valid' }, 'BAD_REQUEST', false, undefined],
  ])('%s', (_name, status, body, code, retryable, retryAfterMs) => {
    const error = classifyHubspotError(apiException(status, body), ctx);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.retryAfterMs).toBe(retryAfterMs);
    expect(error.status).toBe(status);
    expect(error.message).toContain(String((body).message));
  });

  it('a ten-second 429 waits the window HubSpot reports for the account', () => {
    const error = classifyHubspotError(
      Object.assign(new Error('429'), { code: 429, body: { message: 'You have reached your ten_secondly_rolling limit.', policyName: 'TEN_SECONDLY_ROLLING' }, headers: { 'x-hubspot-ratelimit-interval-milliseconds': '2000' } }),
      ctx,
    );
    expect(error.retryAfterMs).toBe(2000);
  });

  it('names the missing scope on a 403', () => {
    const error = classifyHubspotError(
      apiException(403, { message: 'lacks scopes', errors: [{ context: { requiredGranularScopes: ['crm.objects.deals.write'] } }] }),
      ctx,
    );
    expect(error.message).toContain('Missing scopes: crm.objects.deals.write');
  });

  it('a network failure is retryable and names the cause', () => {
    const error = classifyHubspotError(new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }), ctx);
    expect(error.code).toBe('NETWORK');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('the DAILY message says when the sync can resume', () => {
    const error = classifyHubspotError(apiException(429, { message: 'You have reached your daily limit.', policyName: 'DAILY' }), ctx);
    expect(error.message).toMatch(/resets at midnight.*resumes where it stopped/);
  });
});
