import type { IncomingMessage } from 'node:http';
import { FaultPlan, hashUnit } from '../../../src/sandbox/faults';

function req(method: string, url: string, length?: number): IncomingMessage {
  return { method, url, headers: length === undefined ? {} : { 'content-length': String(length) } } as unknown as IncomingMessage;
}

describe('FaultPlan', () => {
  it('gives the same requests the same faults under the same seed, whatever the order they arrive in', () => {
    const requests = Array.from({ length: 400 }, (_, i) => req('POST', `/crm/v3/objects/contacts/batch/upsert?n=${i}`, 1000 + i));
    const config = { seed: 'replay', rates: { rateLimited: 0.1, serverError: 0.05, timeout: 0.02 } };
    const forward = new FaultPlan(config);
    const a = requests.map((r) => forward.forRequest('upsert', r));
    const backward = new FaultPlan(config);
    const b = [...requests].reverse().map((r) => backward.forRequest('upsert', r)).reverse();
    expect(b).toEqual(a);
    expect(new Set(a.filter((k) => k !== null))).toEqual(new Set(['rateLimited', 'serverError', 'timeout']));
  });

  it('injects each kind at close to its rate, and another seed gives other faults', () => {
    const rates = { rateLimited: 0.1, serverError: 0.05, timeout: 0.02 };
    const plan = new FaultPlan({ seed: 1, rates });
    const other = new FaultPlan({ seed: 2, rates });
    const n = 20_000;
    const mine: Array<string | null> = [];
    const theirs: Array<string | null> = [];
    for (let i = 0; i < n; i += 1) {
      mine.push(plan.forRequest('r', req('GET', `/x/${i}`)));
      theirs.push(other.forRequest('r', req('GET', `/x/${i}`)));
    }
    const stats = plan.stats();
    expect(stats.requests).toBe(n);
    expect(stats.injected.rateLimited / n).toBeCloseTo(0.1, 1);
    expect(stats.injected.serverError / n).toBeCloseTo(0.05, 1);
    expect(stats.injected.timeout / n).toBeCloseTo(0.02, 1);
    expect(theirs).not.toEqual(mine);
  });

  it('draws again for a retry of the same request, so a retried request is not doomed', () => {
    const plan = new FaultPlan({ seed: 'retry', rates: { serverError: 0.5 } });
    const outcomes = Array.from({ length: 40 }, () => plan.forRequest('r', req('POST', '/same', 10)));
    expect(outcomes).toContain(null);
    expect(outcomes).toContain('serverError');
    expect(plan.events().map((e) => e.occurrence)).toEqual(outcomes.flatMap((o, i) => (o === null ? [] : [i])));
  });

  it('answers normally when the drawn kind does not apply, and only on the routes it is given', () => {
    const plan = new FaultPlan({ seed: 's', rates: { tokenExpiry: 1 }, routes: ['upsert'] });
    expect(plan.forRequest('upsert', req('GET', '/a'), (kind) => kind !== 'tokenExpiry')).toBeNull();
    expect(plan.forRequest('search', req('GET', '/a'))).toBeNull();
    expect(plan.forRequest('upsert', req('GET', '/b'))).toBe('tokenExpiry');
  });

  it('fails records alone at the partial rate, the same records under the same seed', () => {
    const a = new FaultPlan({ seed: 9, rates: { partial: 0.2 } });
    const b = new FaultPlan({ seed: 9, rates: { partial: 0.2 } });
    const keys = Array.from({ length: 1000 }, (_, i) => `person${i}@example.com`);
    const failedA = keys.filter((k) => a.forRecord('contacts:write', 'contacts', k));
    const failedB = [...keys].reverse().filter((k) => b.forRecord('contacts:write', 'contacts', k.toUpperCase()));
    expect(new Set(failedB.map((k) => k.toLowerCase()))).toEqual(new Set(failedA));
    expect(failedA.length / keys.length).toBeCloseTo(0.2, 1);
  });

  it('refuses rates outside [0, 1] and request rates adding up to more than 1', () => {
    expect(() => new FaultPlan({ seed: 1, rates: { serverError: 1.5 } })).toThrow('faults.rates.serverError must be a number in [0, 1]');
    expect(() => new FaultPlan({ seed: 1, rates: { rateLimited: 0.6, serverError: 0.6 } })).toThrow('add up to 1.2');
    expect(() => new FaultPlan({ seed: 1, rates: { partial: 0.9, rateLimited: 0.5 } })).not.toThrow();
  });

  it('hashUnit is a stable number in [0, 1)', () => {
    expect(hashUnit('a', 1)).toBe(hashUnit('a', 1));
    expect(hashUnit('a', 1)).not.toBe(hashUnit('a', 2));
    for (let i = 0; i < 100; i += 1) {
      const u = hashUnit('x', i);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });
});
