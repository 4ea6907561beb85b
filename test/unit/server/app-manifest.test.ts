import { loadAppManifest, NEEDED_SCOPES, parseAppManifest } from '../../../src/server/app-manifest';

describe('app.json (the HubSpot app manifest)', () => {
  it('the shipped manifest loads and asks for every scope a sync needs, with the webhooks orbit-sync handles', () => {
    const manifest = loadAppManifest();
    expect(manifest.auth.requiredScopes).toEqual(expect.arrayContaining([...NEEDED_SCOPES]));
    expect(manifest.webhooks.subscriptions.map((s) => s.subscriptionType).sort()).toEqual(['contact.creation', 'contact.privacyDeletion', 'contact.propertyChange']);
  });

  it('lists every problem at once, naming the field', () => {
    const bad = {
      name: 'x',
      uid: 'has spaces',
      description: 'd',
      public: true,
      auth: { redirectUrls: ['http://plain.example.com/cb'], requiredScopes: ['oauth'], optionalScopes: [] },
      webhooks: { targetUrl: '/webhooks/hubspot', subscriptions: [{ subscriptionType: 'deal.creation', active: true }] },
      support: { supportEmail: 'not-an-email' },
    };
    let problems: readonly string[] = [];
    try {
      parseAppManifest(bad);
    } catch (err) {
      problems = (err as { problems: readonly string[] }).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/uid: must be 1–64 characters/),
        expect.stringMatching(/auth\.redirectUrls\.0: must be a path under PUBLIC_URL/),
        expect.stringMatching(/webhooks\.subscriptions\.0\.subscriptionType: must be one orbit-sync handles/),
        expect.stringMatching(/support\.supportEmail/),
      ]),
    );
  });

  it('refuses a manifest that leaves out a scope the sync needs', () => {
    const manifest = loadAppManifest();
    const missing = { ...manifest, auth: { ...manifest.auth, requiredScopes: manifest.auth.requiredScopes.filter((s) => s !== 'crm.objects.deals.write') } };
    expect(() => parseAppManifest(missing)).toThrow(/must include crm\.objects\.deals\.write/);
  });
});
