/**
 * The slice of xml2js (0.6, a dependency of ours and of jsforce, which parses SOAP with it) that the
 * sandbox's Metadata API endpoint and the outbound-message Ack check use. xml2js ships no types and
 * @types/xml2js is not installed.
 */
declare module 'xml2js' {
  export interface ParserOptions {
    explicitArray?: boolean;
    explicitRoot?: boolean;
    trim?: boolean;
    /** Each element gets `$ns: { uri, local }` (its namespace URI and local name). */
    xmlns?: boolean;
    tagNameProcessors?: Array<(name: string) => string>;
    attrNameProcessors?: Array<(name: string) => string>;
  }
  export function parseStringPromise(xml: string, options?: ParserOptions): Promise<unknown>;
  export const processors: { stripPrefix(name: string): string };
}
