/**
 * Mapping never blanks a CRM field and never writes over an `ifEmpty` value (DESIGN.md, "Field mapping
 * and overwrite policy"; src/mapping/apply-policy.ts), for arbitrary current CRM values and arbitrary
 * mapped values, and through the real mappings in config/mappings/*.json.
 *
 * Budget: 1,000 runs, then 300 + 300 per mapping file, of pure functions; about 3 s on a 2-core
 * machine, each property stopped at 20 s (helpers.ts, RUN_LIMITS). No fixed seed: fast-check prints the
 * seed and path of a failure, and `fc.assert(…, { seed, path })` replays it.
 */
import fc from 'fast-check';
import type { IntentPerson, PersonEmail } from '../../src/ingest/types';
import { applyPolicy, type CurrentValues, type PolicyResult } from '../../src/mapping/apply-policy';
import { loadMapping } from '../../src/mapping/load-mapping';
import { mapPerson, type MapContext } from '../../src/mapping/map-person';
import { MAPPING_POLICIES, MAPPING_SOURCES, MAPPING_VALUE_TYPES, type Mapping, type MappingEntry } from '../../src/mapping/mapping-schema';
import { RUN_LIMITS, sha256, TEST_TIMEOUT_MS, textArb } from './helpers';

const isBlank = (v: string | null | undefined): boolean => v === null || v === undefined || v.trim() === '';

/** CRM property names: what the mapping schema accepts, including names an object's prototype also has. */
const propertyArb: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/),
  fc.constantFrom('email', 'jobtitle', 'Title', 'leadpipe_intent_score', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'),
);

/** A value as a CRM or the mapping holds it: blank, text, numbers and dates in several spellings. */
const valueArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '\t\n', '87', '87.0', ' 87 ', '1e2', '100', 'NaN', '2026-11-20T08:30:00Z', '2026-11-20T08:30:00.000Z', '1795163400000', 'hot'),
  textArb,
);

const entryArb: fc.Arbitrary<MappingEntry> = fc.record({
  property: propertyArb,
  source: fc.constantFrom(...MAPPING_SOURCES),
  policy: fc.constantFrom(...MAPPING_POLICIES),
  type: fc.constantFrom(...MAPPING_VALUE_TYPES),
});

/** A CRM record's current values: undefined for a record that does not exist yet; keys may be missing. */
function currentArb(properties: fc.Arbitrary<string>): fc.Arbitrary<CurrentValues | undefined> {
  return fc.option(fc.dictionary(properties, fc.oneof(valueArb, fc.constant(null), fc.constant(undefined)), { maxKeys: 12 }), { nil: undefined, freq: 4 });
}

function currentOf(current: CurrentValues | undefined, property: string): string | null | undefined {
  return current !== undefined && Object.hasOwn(current, property) ? current[property] : undefined;
}

/** The rules every plan must keep, whatever the values. */
function checkPlan(mapped: Record<string, string>, current: CurrentValues | undefined, entries: readonly MappingEntry[], result: PolicyResult): void {
  const policyOf = (property: string): MappingEntry['policy'] => entries.find((e) => e.property === property)?.policy ?? 'ifEmpty';
  for (const [property, value] of Object.entries(result.properties)) {
    // Never blanks a field, and only ever writes the mapped value.
    expect(typeof value).toBe('string');
    expect(value.trim()).not.toBe('');
    expect(value).toBe(mapped[property]);
    const before = currentOf(current, property);
    // Never writes over an ifEmpty value, never writes a `never` field.
    if (policyOf(property) === 'ifEmpty') expect(isBlank(before)).toBe(true);
    expect(policyOf(property)).not.toBe('never');
  }
  for (const [property, value] of Object.entries(mapped)) {
    const before = currentOf(current, property);
    const policy = policyOf(property);
    const written = Object.hasOwn(result.properties, property);
    if (value.trim() === '' || policy === 'never') expect(written).toBe(false);
    // Into an empty field (or a new record) every non-blank value but a `never` one is written.
    else if (isBlank(before)) expect(written).toBe(true);
    // `always` writes a value that differs as text and by value; an identical one is not sent again.
    else if (policy === 'always' && before === value) expect(written).toBe(false);
    if (policy === 'always' && !isBlank(before) && value.trim() !== '') {
      // Text is compared as written; numbers by value, so the CRM's `87.0` echo of `87` is no change.
      const type = entries.find((e) => e.property === property)?.type ?? 'string';
      if (type === 'string' || type === 'enumeration') expect(written).toBe(before !== value);
      if (type === 'number' && Number.isFinite(Number(before)) && Number.isFinite(Number(value))) expect(written).toBe(Number(before) !== Number(value));
    }
  }
  // Every non-blank mapped value is accounted for once: sent (with its before/after) or kept with a reason.
  const accounted = [...result.changes.map((c) => c.property), ...result.kept.map((k) => k.property)].sort();
  expect(accounted).toEqual(Object.keys(mapped).filter((p) => mapped[p]?.trim() !== '').sort());
  expect(result.changes.map((c) => c.property).sort()).toEqual(Object.keys(result.properties).sort());
  for (const change of result.changes) {
    expect(change.after).toBe(result.properties[change.property]);
    expect(change.before).toBe(currentOf(current, change.property) ?? null);
  }
}

describe('mapping: planned changes never blank a CRM field nor overwrite an ifEmpty value', () => {
  it('applyPolicy, for arbitrary entries, mapped values and current CRM values', () => {
    const inputArb = fc
      .uniqueArray(entryArb, { selector: (e) => e.property, maxLength: 10 })
      .chain((entries) => {
        // Mapped and current values over the mapped properties and a few unmapped ones (safe default: ifEmpty).
        const names = fc.oneof(...(entries.length > 0 ? [fc.constantFrom(...entries.map((e) => e.property))] : []), propertyArb);
        return fc.record({ entries: fc.constant(entries), mapped: fc.dictionary(names, valueArb, { maxKeys: 12 }), current: currentArb(names) });
      });
    fc.assert(
      fc.property(inputArb, ({ entries, mapped, current }) => {
        checkPlan(mapped, current, entries, applyPolicy(mapped, current, entries));
      }),
      { numRuns: 1000, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);

  const hubspot = loadMapping('hubspot');
  const salesforce = loadMapping('salesforce');
  const emailArb: fc.Arbitrary<PersonEmail> = fc
    .tuple(fc.stringMatching(/^[a-z0-9._-]{1,10}$/), fc.constantFrom('acme.com', 'gmail.com', 'müller.de'), fc.constantFrom<PersonEmail['kind']>('primary', 'business', 'personal', 'other'))
    .map(([local, domain, kind]) => ({ address: `${local}@${domain}`, sha256: sha256(`${local}@${domain}`), kind }));
  const maybe = fc.option(textArb, { nil: undefined });
  /** Any person ingest can produce, and a few it cannot (blank strings), which must map to nothing either. */
  const personArb: fc.Arbitrary<IntentPerson> = fc
    .record({
      hash: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: undefined }),
      emails: fc.array(emailArb, { maxLength: 3 }),
      firstName: maybe,
      lastName: maybe,
      fullName: maybe,
      jobTitle: maybe,
      headline: maybe,
      seniority: maybe,
      department: maybe,
      phone: maybe,
      linkedinUrl: maybe,
      company: fc.record({ name: maybe, domain: fc.option(fc.constantFrom('acme.com', 'müller.de', ' Acme.COM '), { nil: undefined }), industry: maybe }, { requiredKeys: [] }),
      score: fc.integer({ min: 1, max: 100 }),
      topics: fc.array(textArb, { maxLength: 6 }),
    })
    .map(({ hash, ...p }) => {
      const person: IntentPerson = { key: hash ?? sha256(p.emails[0]?.address ?? 'x'), ...p, company: {}, extra: {}, line: 2, rows: 1 };
      if (hash !== undefined) person.hashedEmail = hash;
      for (const [k, v] of Object.entries(p.company)) if (v !== undefined) person.company[k as keyof IntentPerson['company']] = v;
      for (const k of Object.keys(person) as Array<keyof IntentPerson>) if (person[k] === undefined) delete person[k];
      return person;
    });
  const contextArb: fc.Arbitrary<MapContext> = fc.record(
    {
      runId: fc.stringMatching(/^run_[a-z0-9]{1,8}$/),
      audienceId: fc.stringMatching(/^aud_[a-z0-9]{1,8}$/),
      audienceName: textArb,
      intentAt: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
    },
    { requiredKeys: ['runId', 'audienceId', 'intentAt'] },
  );

  describe.each([
    ['hubspot', hubspot],
    ['salesforce', salesforce],
  ] as const)('config/mappings/%s.json', (_name, mapping: Mapping) => {
    const objects = (['contact', 'lead', 'company'] as const).filter((o) => mapping[o].length > 0);
    const properties = fc.constantFrom(...objects.flatMap((o) => mapping[o].map((e) => e.property)));

    it('mapPerson gives no blank value, and the plan against any current record keeps every rule', () => {
      fc.assert(
        fc.property(personArb, contextArb, currentArb(properties), (person, context, current) => {
          const mapped = mapPerson(person, mapping, context);
          for (const object of objects) {
            const values = mapped[object];
            if (values === undefined) continue;
            for (const value of Object.values(values)) expect(value.trim()).not.toBe('');
            checkPlan(values, current, mapping[object], applyPolicy(values, current, mapping[object]));
          }
        }),
        { numRuns: 300, plugins: RUN_LIMITS },
      );
    }, TEST_TIMEOUT_MS);

    it('a second sync of the same person after the first was written plans no change', () => {
      fc.assert(
        fc.property(personArb, contextArb, currentArb(properties), (person, context, current) => {
          const mapped = mapPerson(person, mapping, context);
          for (const object of objects) {
            const values = mapped[object];
            if (values === undefined) continue;
            const first = applyPolicy(values, current, mapping[object]);
            const after: CurrentValues = { ...current, ...first.properties };
            expect(applyPolicy(values, after, mapping[object]).properties).toEqual({});
          }
        }),
        { numRuns: 300, plugins: RUN_LIMITS },
      );
    }, TEST_TIMEOUT_MS);
  });
});
