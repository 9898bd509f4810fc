// What the chat page sends and how it reads what arrives. The page sends each chat line as a small JSON
// text, {"name","text"}, and everyone on the channel gets exactly that. What other clients send (any
// text, or binary) is shown as it is. Which lines are the page's own is not in the text (anyone could
// write anything there): the relay stamps each message of a wavecast.v1 connection with that
// connection's id (`from`), and a page knows the ids of its own connections.
// Pure functions (no DOM), so the tests can check them too.

import { MAX_CHANNEL_BYTES } from '../../v1/protocol.js';

export interface ChatLine {
  name: string;
  text: string;
}

export type Incoming = { kind: 'chat'; name: string; text: string } | { kind: 'text'; text: string } | { kind: 'binary'; bytes: number };

export const MAX_NAME_LENGTH = 32;
export const MAX_TEXT_LENGTH = 2000;

export function encodeChat(line: ChatLine): string {
  return JSON.stringify({ name: line.name, text: line.text });
}

// Longest channel name the relay takes, in UTF-8 bytes: the wavecast.v1 module's rule.
export { MAX_CHANNEL_BYTES };

/** Why the relay would refuse a channel name (null: it would not), in words for the page. */
export function channelProblem(channel: string): string | null {
  if (/\p{Cs}/u.test(channel)) return 'The channel name is not valid text.';
  if (/[\u0000-\u001f\u007f]/.test(channel)) return 'The channel name may not contain control characters.';
  const bytes = new TextEncoder().encode(channel).length;
  if (bytes > MAX_CHANNEL_BYTES) return `The channel name is too long: ${bytes} bytes, at most ${MAX_CHANNEL_BYTES} (UTF-8).`;
  return null;
}

/** Reads a message from the channel: a chat line from a page, or whatever a plain client sent. */
export function decodeIncoming(data: unknown): Incoming {
  if (typeof data !== 'string') {
    const bytes =
      data instanceof ArrayBuffer
        ? data.byteLength
        : typeof (data as { size?: unknown })?.size === 'number'
          ? (data as { size: number }).size
          : 0;
    return { kind: 'binary', bytes };
  }
  if (data.startsWith('{')) {
    try {
      const value = JSON.parse(data) as Record<string, unknown>;
      if (typeof value === 'object' && value !== null && typeof value.text === 'string' && typeof value.name === 'string') {
        return {
          kind: 'chat',
          name: cleanName(value.name) || 'anonymous',
          text: value.text.slice(0, MAX_TEXT_LENGTH * 2),
        };
      }
    } catch {
      // Not JSON after all: shown as plain text below.
    }
  }
  return { kind: 'text', text: data };
}

/** A name as shown: one line, trimmed, at most MAX_NAME_LENGTH characters. */
export function cleanName(name: string): string {
  return name
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .trim()
    .slice(0, MAX_NAME_LENGTH);
}

/** The channel the page opens on: ?channel=…, else the #fragment, else "lobby". */
export function channelFromLocation(search: string, hash: string): string {
  const fromQuery = new URLSearchParams(search).get('channel');
  if (fromQuery !== null && fromQuery.trim() !== '') return fromQuery.trim();
  let fromHash = hash.startsWith('#') ? hash.slice(1) : hash;
  try {
    fromHash = decodeURIComponent(fromHash);
  } catch {
    // Keep it as it is.
  }
  return fromHash.trim() !== '' ? fromHash.trim() : 'lobby';
}

/** The WebSocket URL of a channel on the relay that served the page (with the token, if the page has one). */
export function channelUrl(location: { protocol: string; host: string }, channel: string, token: string | null): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${scheme}://${location.host}/${encodeURIComponent(channel)}${query}`;
}

/** Hues far enough apart to tell names apart. */
const NAME_HUES = [210, 140, 0, 275, 30, 180, 320, 95];

/** A hue for a name, so that each person's name keeps its colour. */
export function nameHue(name: string): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  return NAME_HUES[hash % NAME_HUES.length]!;
}

/** The page's message backgrounds (chat.css: --panel), light and dark. */
export const PANEL = { light: [255, 255, 255], dark: [0x1d, 0x21, 0x27] } as const;
/** WCAG AA for normal text. */
export const MIN_CONTRAST = 4.5;

/** An HSL colour (h in degrees, s and l from 0 to 1) as 0-255 RGB. */
export function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** The WCAG contrast ratio of two sRGB colours (1 to 21). */
export function contrast(a: readonly number[], b: readonly number[]): number {
  const luminance = (rgb: readonly number[]) => {
    const linear = rgb.map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * linear[0]! + 0.7152 * linear[1]! + 0.0722 * linear[2]!;
  };
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * A name's colour in light and dark mode: its hue, as bright as it can be (light mode: as light) while
 * keeping at least MIN_CONTRAST against the message background, so every name reads in both modes.
 */
export function nameColours(name: string): { light: string; dark: string } {
  const hue = nameHue(name);
  const saturation = 0.7;
  let light = 0.5;
  while (light > 0 && contrast(hslToRgb(hue, saturation, light), PANEL.light) < MIN_CONTRAST + 0.1) light -= 0.01;
  let dark = 0.5;
  while (dark < 1 && contrast(hslToRgb(hue, saturation, dark), PANEL.dark) < MIN_CONTRAST + 0.1) dark += 0.01;
  const css = (l: number) => `hsl(${hue} ${saturation * 100}% ${Math.round(l * 100)}%)`;
  return { light: css(light), dark: css(dark) };
}
