/**
 * Whether a URL host (as `URL.hostname` gives it) is this machine: `localhost`, 127.0.0.0/8 or [::1].
 * Plain http and downloads from such hosts are allowed only for the local sandboxes.
 */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
