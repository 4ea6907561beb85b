import { normalizePhone } from '../../../src/ingest/normalize-phone';

describe('normalizePhone', () => {
  it.each([
    ['+18005551212', '+18005551212'],
    ['+1 (800) 555-1212', '+18005551212'],
    ['+44 20 7946 0958', '+442079460958'],
    ['(415) 555-0132', '+14155550132'],
    ['415.555.0132', '+14155550132'],
    ['1-415-555-0132', '+14155550132'],
    ['14155550132', '+14155550132'],
    ['  +49 30 901820  ', '+4930901820'],
  ])('puts %j in E.164', (raw, expected) => {
    expect(normalizePhone(raw)).toBe(expected);
  });

  it.each([
    ['415-555-0132 ext. 12', '415-555-0132 ext. 12'],
    ['0171 555 0132', '0171 555 0132'], // a local number of unknown country
    ['(015) 555-0132', '(015) 555-0132'], // not a North American area code
    ['+1 555', '+1 555'], // too short
    ['+0 123 456 789', '+0 123 456 789'],
    ['call the front desk', 'call the front desk'],
    ['  5550132 ', '5550132'],
  ])('keeps %j as given (trimmed)', (raw, expected) => {
    expect(normalizePhone(raw)).toBe(expected);
  });
});
