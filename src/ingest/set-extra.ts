/**
 * `person.extra` is keyed by header text from the file, so any name can be a key. `extra[name] = value`
 * does not create a property for the name `__proto__` (it sets the object's prototype, and a string
 * prototype is ignored), so that column's values vanished without a trace. This sets an own property
 * for every name; other names keep the plain assignment, which is faster on the per-row path.
 */
export function setExtra(extra: Record<string, string>, column: string, value: string): void {
  if (column === '__proto__') Object.defineProperty(extra, column, { value, enumerable: true, writable: true, configurable: true });
  else extra[column] = value;
}
