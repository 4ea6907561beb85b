/** Request-body helpers shared by the sandboxes' HTTP servers. */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';

/** The request body as UTF-8 text, refusing (with the sandbox's own error) a body over `maxBytes`. */
export async function readBodyText(req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    const buf = Buffer.isBuffer(part) ? part : Buffer.from(String(part));
    size += buf.length;
    if (size > maxBytes) throw tooLarge();
    parts.push(buf);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A zod error as one line: `path: message; …`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}
