/**
 * Reads `config/mappings/<destination>.json` once at start-up. Every problem (missing file, bad JSON,
 * each bad entry) is reported in one `FixConfigurationError`, like `loadConfig`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG_DIR } from '../config';
import { FixConfigurationError } from '../lib/errors';
import { type Mapping, mappingProblems, MappingSchema } from './mapping-schema';

export function mappingFile(destination: string, configDir: string = DEFAULT_CONFIG_DIR): string {
  return path.join(configDir, 'mappings', `${destination}.json`);
}

export function loadMapping(destination: string, configDir: string = DEFAULT_CONFIG_DIR): Mapping {
  // The name becomes a path: refuse anything that could leave config/mappings/.
  if (!/^[a-z][a-z0-9-]*$/.test(destination)) {
    throw new FixConfigurationError([`destination "${destination}": must be a name such as "hubspot" (lower-case letters, digits, -)`]);
  }
  const file = mappingFile(destination, configDir);
  if (!existsSync(file)) throw new FixConfigurationError([`${file}: file not found (each destination needs its mapping file)`]);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new FixConfigurationError([`${file}: not valid JSON (${(err as Error).message})`]);
  }
  const result = MappingSchema.safeParse(raw);
  const problems = result.success ? [] : mappingProblems(raw, result.error, file);
  if (result.success && result.data.destination !== destination) {
    problems.push(`${file}: destination: is "${result.data.destination}", expected "${destination}"`);
  }
  if (!result.success || problems.length > 0) throw new FixConfigurationError(problems);
  return result.data;
}
