/**
 * A 401 from HubSpot with an OAuth app: a new token, then the call again. With several requests in flight,
 * the new token a retry carries may already have been replaced by another request's refresh, so a call
 * gets a few new tokens before its 401 becomes the connection's AUTH_INVALID.
 */
import { loadConfig } from '../../../../src/config';
import { HubspotApi } from '../../../../src/destinations/hubspot/hubspot-api';
import { SyncError } from '../../../../src/lib/errors';

const config = loadConfig({ LOG_LEVEL: 'silent' });

/** What the SDK throws for a 401 (an ApiException: code, body, headers). */
function expired(): Error {
  return Object.assign(new Error('HTTP-Code: 401'), {
    code: 401,
    body: { status: 'error', message: 'The OAuth token used to make this call expired 0 minute(s) ago.', category: 'EXPIRED_AUTHENTICATION' },
    headers: {},
  });
}

function api(onUnauthorized?: () => Promise<void>): HubspotApi {
  return new HubspotApi({ accountId: '4242', appKind: 'oauthApp', settings: config.hubspot, ...(onUnauthorized && { onUnauthorized }) });
}

it('a call answered 401 twice gets two new tokens and then goes through', async () => {
  let refreshes = 0;
  let sent = 0;
  const result = await api(() => Promise.resolve(void (refreshes += 1))).call('POST /crm/v3/objects/contacts/batch/upsert', () => {
    sent += 1;
    return sent <= 2 ? Promise.reject(expired()) : Promise.resolve({ results: [] });
  });
  expect(result).toEqual({ results: [] });
  expect({ sent, refreshes }).toEqual({ sent: 3, refreshes: 2 });
});

it('a call still answered 401 after three new tokens fails with AUTH_INVALID', async () => {
  let refreshes = 0;
  let sent = 0;
  const call = api(() => Promise.resolve(void (refreshes += 1))).call('POST /crm/v3/objects/contacts/batch/read', () => {
    sent += 1;
    return Promise.reject(expired());
  });
  await expect(call).rejects.toMatchObject({ code: 'AUTH_INVALID' });
  expect({ sent, refreshes }).toEqual({ sent: 4, refreshes: 3 });
});

it('without a way to refresh (a private app), the first 401 is final', async () => {
  let sent = 0;
  const call = api().call('POST /crm/v3/objects/contacts/batch/read', () => {
    sent += 1;
    return Promise.reject(expired());
  });
  await expect(call).rejects.toBeInstanceOf(SyncError);
  expect(sent).toBe(1);
});
