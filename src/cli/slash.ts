// --slash: lines that start with '/' are commands instead of messages, as in wscat: /ping [data],
// /pong [data], /close [code [reason]]. A line that starts with '//' is sent with one '/' less.

export type SlashCommand =
  | { kind: 'send'; text: string }
  | { kind: 'ping' | 'pong'; data: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'error'; message: string };

export const SLASH_HELP = '/ping [data], /pong [data], /close [code [reason]]; a line starting with // is sent with one / less';

/** What a line means with --slash: a message to send, a control frame, or a mistake to point out. */
export function readSlash(line: string): SlashCommand {
  if (!line.startsWith('/')) return { kind: 'send', text: line };
  if (line.startsWith('//')) return { kind: 'send', text: line.slice(1) };
  const match = /^\/(\S*)\s*(.*)$/s.exec(line)!;
  const name = match[1]!;
  const rest = match[2]!;
  switch (name) {
    case 'ping':
    case 'pong':
      return { kind: name, data: rest };
    case 'close': {
      if (rest === '') return { kind: 'close', code: 1000, reason: '' };
      const [, code, reason] = /^(\S+)\s*(.*)$/s.exec(rest)!;
      if (!/^\d+$/.test(code!)) return { kind: 'error', message: `/close takes a close code first (1000, or 3000 to 4999), not "${code}"` };
      return { kind: 'close', code: Number(code), reason: reason! };
    }
    default:
      return { kind: 'error', message: `unknown command /${name} (${SLASH_HELP})` };
  }
}
