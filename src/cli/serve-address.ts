// What `wavecast serve` tells a person once it listens: the WebSocket URL and the chat page's, and,
// when it listens on every interface, the page's address on this machine's networks (for a phone on
// the same Wi-Fi). Also the one line that says what to do when it cannot listen.
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/**
 * The stdout line: `wavecast relay listening on ws://ADDRESS:PORT — chat page: http://HOST:PORT/`, the
 * WebSocket URL with the address bound, the page's with the name given to --host when it is a name
 * (localhost rather than 127.0.0.1 or [::1]).
 */
export function listeningLine(url: string, host: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  const page = pageUrl(url, host);
  let line = `wavecast relay listening on ${url} — chat page: ${page}`;
  const bound = new URL(url).hostname;
  if (isWildcard(bound)) {
    const lan = lanAddresses(interfaces, bound === '[::]').map((address) => page.replace('localhost', address));
    if (lan.length > 0) line += `, on this network: ${lan.join(', ')}`;
  }
  return line;
}

/** The chat page's URL for the relay at `url` (ws:// or wss://, the address bound) started with --host `host`. */
export function pageUrl(url: string, host: string): string {
  const parsed = new URL(url);
  const name = isWildcard(parsed.hostname) ? 'localhost' : isIP(host) === 0 && host !== '' ? host : parsed.hostname;
  return `${parsed.protocol === 'wss:' ? 'https' : 'http'}://${name}:${parsed.port}/`;
}

function isWildcard(hostname: string): boolean {
  return hostname === '0.0.0.0' || hostname === '[::]';
}

/** The machine's own addresses others can reach (IPv4, then IPv6 when `ipv6`), not loopback or link-local. */
function lanAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>, ipv6: boolean): string[] {
  const found: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) {
      if (info.internal) continue;
      if (info.family === 'IPv4') found.push(info.address);
      else if (ipv6 && !info.address.toLowerCase().startsWith('fe80:')) found.push(`[${info.address}]`);
    }
  }
  // IPv4 first: what a phone on the same Wi-Fi is likeliest to reach.
  return found.sort((a, b) => Number(a.startsWith('[')) - Number(b.startsWith('[')));
}

/** Why the relay could not listen on host:port, and what to do about it, in one sentence. */
export function listenFailure(error: NodeJS.ErrnoException, host: string, port: number): string {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${where} is already in use (another relay, or another program, listens there): stop it, or pick another port with --port ${port === 65535 ? port - 1 : port + 1} (--port 0 takes any free one)`;
    case 'EACCES':
      return `no permission to listen on ${where}${port < 1024 ? ' (ports below 1024 need root)' : ''}: pick another port with --port`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `${host} is not an address of this machine: give --host localhost, 0.0.0.0 (every interface) or one of its addresses`;
    default:
      return `cannot listen on ${where}: ${error.message}`;
  }
}
