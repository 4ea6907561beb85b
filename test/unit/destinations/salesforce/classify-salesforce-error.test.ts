import type { Connection } from 'jsforce';
import { classifySalesforceError } from '../../../../src/destinations/salesforce/salesforce-api';

const conn = { limitInfo: { apiUsage: { used: 15000, limit: 15000 } } } as unknown as Connection;
const ctx = { endpoint: 'PATCH /composite/sobjects/Lead/Leadpipe_Hashed_Email__c', conn };
const jsforceError = (errorCode: string, message: string): Error => Object.assign(new Error(message), { name: errorCode, errorCode });

describe('classifySalesforceError', () => {
  it.each([
    ['the concurrent-request throttle backs off', jsforceError('REQUEST_LIMIT_EXCEEDED', 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.'), 'RATE_LIMITED', true],
    [
      'the same throttle thrown by a Bulk 2.0 call as ERROR_HTTP_403 with the JSON body',
      jsforceError('ERROR_HTTP_403', '[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded."}]'),
      'RATE_LIMITED',
      true,
    ],
    ['the daily allocation stops the sync', jsforceError('REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'), 'DAILY_LIMIT_REACHED', false],
    ['the daily allocation from a Bulk 2.0 call', jsforceError('ERROR_HTTP_403', '[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]'), 'DAILY_LIMIT_REACHED', false],
    ['a 500 UNKNOWN_EXCEPTION is retried', jsforceError('UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234-5678 (-42)'), 'UPSTREAM_5XX', true],
    ['SERVER_UNAVAILABLE is retried', jsforceError('SERVER_UNAVAILABLE', 'Server is temporarily unavailable.'), 'UPSTREAM_5XX', true],
    ['a gateway HTML page is retried', jsforceError('ERROR_HTTP_502', 'HTTP response contains html content.'), 'UPSTREAM_5XX', true],
    ['a connection dropped mid-answer is retried', jsforceError('NETWORK_ERROR', 'the connection to Salesforce failed: UND_ERR_SOCKET'), 'NETWORK', true],
    ['a refused refresh needs a new authorization', new Error('Unable to refresh session due to: expired access/refresh token'), 'AUTH_INVALID', false],
    ['a malformed request is not retried', jsforceError('MALFORMED_QUERY', 'unexpected token: FROM'), 'BAD_REQUEST', false],
  ])('%s', (_what, err, code, retryable) => {
    const error = classifySalesforceError(err, ctx);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.message).toContain('Salesforce refused PATCH /composite/sobjects/Lead');
  });
});
