/** The chaos suite's scenarios, for one CRM, run size and seed. */
import type { ChaosScenario, Crm } from './scenario';

export function chaosScenarios(crm: Crm, people: number, seed: number): ChaosScenario[] {
  const base = { crm, people, seed };
  return [
    // The acceptance mix of issue #6: 10% throttled, 5% server errors, 2% answers past the client's timeout.
    { ...base, name: 'throttle-5xx-timeouts', crmFaults: { rateLimited: 0.1, serverError: 0.05, timeout: 0.02 }, leadpipeFaults: { rateLimited: 0.1, serverError: 0.05, timeout: 0.02 } },
    // Answers cut half-way (a write applied, its answer lost) and tokens expiring early.
    { ...base, name: 'resets-and-token-expiry', crmFaults: { reset: 0.05, tokenExpiry: 0.03 }, leadpipeFaults: { reset: 0.1, tokenExpiry: 0.2 } },
    // Records failing alone in a batch (HubSpot 207 / Salesforce per-record errors), retried by later syncs.
    { ...base, name: 'partial-failures', crmFaults: { partial: 0.03 } },
    // The Leadpipe side alone, hard: 60% of requests throttled, failing, slow or cut (a cut export is read again).
    // (At 80% a request's five attempts all failed one time in three, so whether any of the three passes got
    // through was down to the seed, not to orbit-sync.)
    { ...base, name: 'leadpipe-export-faults', crmFaults: {}, leadpipeFaults: { rateLimited: 0.15, serverError: 0.15, timeout: 0.05, reset: 0.25 } },
    // Everything at once.
    {
      ...base,
      name: 'everything',
      crmFaults: { rateLimited: 0.05, serverError: 0.03, timeout: 0.02, reset: 0.02, tokenExpiry: 0.02, partial: 0.02 },
      leadpipeFaults: { rateLimited: 0.05, serverError: 0.05, timeout: 0.02, reset: 0.05, tokenExpiry: 0.1 },
    },
  ];
}
