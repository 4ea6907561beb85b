import { createHash } from 'node:crypto';
import { KeyCounter } from '../../../src/ingest/count-keys';

const key = (i: number): string => createHash('sha256').update(`person-${i}`).digest('hex');

describe('KeyCounter', () => {
  it('counts occurrences per key', () => {
    const counter = new KeyCounter();
    expect(counter.add(key(1))).toBe(1);
    expect(counter.add(key(2))).toBe(1);
    expect(counter.add(key(1))).toBe(2);
    expect(counter.get(key(1))).toBe(2);
    expect(counter.get(key(2))).toBe(1);
    expect(counter.get(key(3))).toBe(0);
    expect(counter.size).toBe(2);
  });

  it('treats upper- and lower-case hex as the same key', () => {
    const counter = new KeyCounter();
    counter.add(key(1));
    expect(counter.get(key(1).toUpperCase())).toBe(1);
  });

  it('grows past its initial capacity without losing counts', () => {
    const counter = new KeyCounter(16);
    for (let i = 0; i < 50_000; i++) counter.add(key(i));
    for (let i = 0; i < 50_000; i += 3) counter.add(key(i));
    expect(counter.size).toBe(50_000);
    for (let i = 0; i < 50_000; i += 997) expect(counter.get(key(i))).toBe(i % 3 === 0 ? 2 : 1);
    expect(counter.get(key(50_001))).toBe(0);
  });

  it('spreads keys that differ only in a few bits (test data like 000…001)', () => {
    const counter = new KeyCounter(16);
    for (let i = 0; i < 5000; i++) counter.add(i.toString(16).padStart(64, '0'));
    expect(counter.size).toBe(5000);
    expect(counter.get((4999).toString(16).padStart(64, '0'))).toBe(1);
  });
});

describe('KeyCounter fingerprints', () => {
  it('tells keys apart by their first and last 32 bits', () => {
    const counter = new KeyCounter();
    counter.add(`${'1'.repeat(8)}${'0'.repeat(48)}${'2'.repeat(8)}`);
    expect(counter.get(`${'1'.repeat(8)}${'0'.repeat(48)}${'3'.repeat(8)}`)).toBe(0);
    expect(counter.get(`${'4'.repeat(8)}${'0'.repeat(48)}${'2'.repeat(8)}`)).toBe(0);
    // Keys that differ only in the middle share a count: dedupe-people.ts copes (see its test).
    expect(counter.get(`${'1'.repeat(8)}${'f'.repeat(48)}${'2'.repeat(8)}`)).toBe(1);
  });
});
