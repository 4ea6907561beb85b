/**
 * Topic names from an `intent.matchedTopics` cell. The CSV encoding is undocumented (leadpipe-api.md
 * §7.4), so all the shapes seen are accepted: a JSON array of names (`["CRM","ABM"]`), a JSON array of
 * topic objects (`[{"topicId":1,"topicName":"CRM"}]`, as in preview samples), or a list delimited by `;`
 * or `|`. A value that is neither is one topic. Names are trimmed, empties dropped, and duplicates
 * (ignoring case) removed, keeping the first spelling.
 */
const DELIMITERS = /[;|]/;

const OBJECT_HEAD = '{"topicId":';
const NAME_HEAD = ',"topicName":"';

/**
 * The topic names of the exact shape Leadpipe exports, `[{"topicId":N,"topicName":"…"},…]` with no
 * whitespace, a plain positive integer id and names without escapes or control characters, read
 * without JSON.parse (a third of the cost of topics). Any other text, even valid JSON, gives undefined,
 * and then JSON.parse decides: what this accepts, JSON.parse reads as exactly these names.
 */
function fromTopicObjects(text: string): string[] | undefined {
  const length = text.length;
  const names: string[] = [];
  let i = 1; // after '['
  for (;;) {
    if (!text.startsWith(OBJECT_HEAD, i)) return undefined;
    i += OBJECT_HEAD.length;
    let c = text.charCodeAt(i);
    if (c < 49 || c > 57) return undefined; // 1-9: JSON forbids leading zeros; 0 is left to JSON.parse
    for (i += 1, c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i));
    if (!text.startsWith(NAME_HEAD, i)) return undefined;
    i += NAME_HEAD.length;
    const start = i;
    for (c = text.charCodeAt(i); i < length && c !== 34 && c !== 92 && c >= 32; c = text.charCodeAt(++i));
    if (i >= length || c !== 34 || text.charCodeAt(i + 1) !== 125) return undefined; // '"}'
    names.push(text.slice(start, i));
    i += 2;
    c = text.charCodeAt(i);
    if (c === 93) return i + 1 === length ? names : undefined; // ']'
    if (c !== 44) return undefined; // ','
    i += 1;
  }
}

function fromJson(text: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const names: string[] = [];
  for (const item of parsed as unknown[]) {
    if (typeof item === 'string') names.push(item);
    else if (typeof item === 'object' && item !== null && 'topicName' in item && typeof item.topicName === 'string') names.push(item.topicName);
  }
  return names;
}

export function parseTopics(raw: string): string[] {
  const text = raw.trim();
  if (text === '') return [];
  const items = (text.startsWith('[') ? (fromTopicObjects(text) ?? fromJson(text)) : undefined) ?? text.split(DELIMITERS);
  if (items.length === 1) {
    // One topic, as for many people (each matches 1 to 3 of the audience's topics): nothing to dedupe.
    const name = (items[0] as string).trim();
    return name === '' ? [] : [name];
  }
  const topics: string[] = [];
  // Lists are short (a handful of topics), so a linear scan beats building a Set per row.
  const seen: string[] = [];
  for (const item of items) {
    const name = item.trim();
    if (name === '') continue;
    const id = name.toLowerCase();
    if (seen.includes(id)) continue;
    seen.push(id);
    topics.push(name);
  }
  return topics;
}
