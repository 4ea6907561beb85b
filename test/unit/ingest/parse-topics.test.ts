import { parseTopics } from '../../../src/ingest/parse-topics';

describe('parseTopics', () => {
  it('reads a JSON array of names', () => {
    expect(parseTopics('["CRM software", "Intent data"]')).toEqual(['CRM software', 'Intent data']);
  });

  it('reads a JSON array of topic objects (preview shape)', () => {
    expect(parseTopics('[{"topicId":117805,"topicName":"ABM platforms","type":"b2b"},{"topicId":9,"topicName":"Intent data"}]')).toEqual([
      'ABM platforms',
      'Intent data',
    ]);
  });

  it('reads ; and | delimited lists', () => {
    expect(parseTopics('CRM software; Intent data;ABM')).toEqual(['CRM software', 'Intent data', 'ABM']);
    expect(parseTopics('CRM software|Intent data | ABM')).toEqual(['CRM software', 'Intent data', 'ABM']);
    expect(parseTopics('CRM software;Intent data|ABM')).toEqual(['CRM software', 'Intent data', 'ABM']);
  });

  it('treats a plain value as one topic, commas included', () => {
    expect(parseTopics('CRM software')).toEqual(['CRM software']);
    expect(parseTopics('Sales, marketing and CRM')).toEqual(['Sales, marketing and CRM']);
  });

  it('trims, drops empties and dedupes ignoring case, keeping the first spelling', () => {
    expect(parseTopics(' CRM ;; crm;Intent Data;intent data ; ')).toEqual(['CRM', 'Intent Data']);
    expect(parseTopics('["ABM", "", "abm", " Intent ", {"topicName": "INTENT"}, 42, null]')).toEqual(['ABM', 'Intent']);
    expect(parseTopics('')).toEqual([]);
    expect(parseTopics('[]')).toEqual([]);
  });

  it('falls back to a delimited list when a value only looks like JSON', () => {
    expect(parseTopics('[beta] CRM;ABM')).toEqual(['[beta] CRM', 'ABM']);
  });
});

describe('parseTopics on the export shape (read without JSON.parse)', () => {
  const viaJson = (text: string): string[] | undefined => {
    // The reference: what the JSON reading gives (names of string items and topicName objects).
    try {
      const parsed: unknown = JSON.parse(text);
      if (!Array.isArray(parsed)) return undefined;
      return (parsed as unknown[]).flatMap((item) => (typeof item === 'string' ? [item] : typeof item === 'object' && item !== null && 'topicName' in item && typeof item.topicName === 'string' ? [item.topicName] : []));
    } catch {
      return undefined;
    }
  };
  const reference = (text: string): string[] => {
    const items = (text.trim().startsWith('[') ? viaJson(text.trim()) : undefined) ?? text.trim().split(/[;|]/);
    const out: string[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      const name = item.trim();
      if (name === '' || seen.has(name.toLowerCase())) continue;
      seen.add(name.toLowerCase());
      out.push(name);
    }
    return out;
  };

  it.each([
    '[{"topicId":118021,"topicName":"Customer Data Platform"}]',
    '[{"topicId":1,"topicName":"A"},{"topicId":22,"topicName":"B b"},{"topicId":333,"topicName":"a"}]',
    '[{"topicId":1,"topicName":""}]',
    '[{"topicId":1,"topicName":" Spaced "}]',
    '[{"topicId":1,"topicName":"Ünïcødé ✓ 😀"}]',
    '[{"topicId":1,"topicName":"Quote \\" inside"}]',
    '[{"topicId":1,"topicName":"Back\\\\slash"}]',
    '[{"topicId":1,"topicName":"Tab\tin"}]',
    '[{"topicId":0,"topicName":"Zero id"}]',
    '[{"topicId":01,"topicName":"Leading zero"}]',
    '[{"topicId":-1,"topicName":"Negative"}]',
    '[{"topicId":1.5,"topicName":"Fraction"}]',
    '[{"topicId":1,"topicName":"A"},]',
    '[{"topicId":1,"topicName":"A"}] ',
    '[{"topicId":1,"topicName":"A"}]x',
    '[{"topicId":1,"topicName":"A"}',
    '[{"topicId":1,"topicName":"A"',
    '[{"topicId":1,"topicName":"A}]',
    '[{"topicId":1,"topicName":"A","type":"b2b"}]',
    '[{"topicId":1, "topicName":"A"}]',
    '[{"topicId":1,"topicName":"A"}, {"topicId":2,"topicName":"B"}]',
    '[{"topicId":,"topicName":"A"}]',
    '[{"topicId":1,"topicName":"A;B"}]',
    '[{"topicId":1,"topicName":"A"},{"topicId":2,"topicName":"a"}]',
    '[{"topicId":1}]',
  ])('gives what the JSON reading gives for %j', (text) => {
    expect(parseTopics(text)).toEqual(reference(text));
  });
});
