import { countBetween } from '../../../src/scheduler/scheduler';

describe('countBetween', () => {
  it('counts the scheduled times after `from` up to and including `to`', () => {
    const from = new Date('2026-03-01T10:00:00.000Z');
    expect(countBetween('*/15 * * * *', from, new Date('2026-03-01T12:00:00.000Z'))).toBe(8);
    // `from` itself is on the schedule but not counted; just before `to` the last one is not reached yet.
    expect(countBetween('*/15 * * * *', from, new Date('2026-03-01T11:59:59.000Z'))).toBe(7);
    expect(countBetween('*/15 * * * *', new Date('2026-03-01T10:07:00.000Z'), new Date('2026-03-01T10:44:00.000Z'))).toBe(2);
    expect(countBetween('0 3 * * *', from, new Date('2026-03-08T10:00:00.000Z'))).toBe(7);
  });

  it('is 0 when `to` is not after `from`', () => {
    const at = new Date('2026-03-01T10:00:00.000Z');
    expect(countBetween('*/15 * * * *', at, at)).toBe(0);
    expect(countBetween('*/15 * * * *', at, new Date('2026-03-01T08:00:00.000Z'))).toBe(0);
  });

  it('stops at 10,000 for a very long gap', () => {
    expect(countBetween('* * * * *', new Date('2026-01-01T00:00:00.000Z'), new Date('2026-03-01T00:00:00.000Z'))).toBe(10_000);
  });
});
