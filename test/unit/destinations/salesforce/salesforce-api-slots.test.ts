import type { Connection } from 'jsforce';
import { SalesforceApi } from '../../../../src/destinations/salesforce/salesforce-api';

const conn = { limitInfo: {} } as unknown as Connection;
const retry = { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 };

/** Resolves once every timer and I/O callback queued so far has run (Bottleneck starts jobs on timers). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe('SalesforceApi slots', () => {
  it('never has more than maxConcurrent calls and Bulk jobs in flight', async () => {
    const api = new SalesforceApi({ conn, retry, maxConcurrent: 2 });
    let inFlight = 0;
    let most = 0;
    const work = async (): Promise<void> => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await settle();
      inFlight -= 1;
    };
    await Promise.all([...Array.from({ length: 5 }, () => api.call('GET /query', work)), api.occupy(work), api.occupy(work)]);
    expect(most).toBe(2);
  });

  it('gives a free slot to a Bulk job before the calls that were waiting longer', async () => {
    const api = new SalesforceApi({ conn, retry, maxConcurrent: 1 });
    const started: string[] = [];
    const holder = gate();
    const held = api.call('GET /query', async () => {
      started.push('holder');
      await holder.wait;
    });
    await settle();
    const queued = [
      api.call('PATCH /composite/sobjects', () => Promise.resolve(void started.push('call 1'))),
      api.occupy(() => Promise.resolve(void started.push('job 1'))),
      api.call('PATCH /composite/sobjects', () => Promise.resolve(void started.push('call 2'))),
      api.occupy(() => Promise.resolve(void started.push('job 2'))),
    ];
    await settle();
    expect(started).toEqual(['holder']);
    holder.open();
    await Promise.all([held, ...queued]);
    expect(started).toEqual(['holder', 'job 1', 'job 2', 'call 1', 'call 2']);
  });
});
