// The chat page's files, built by `npm run build` into dist/relay/page/ (index.html, chat.js, chat.css, theme.css),
// read once at start-up and served from memory. A relay run from sources that were never built serves a
// page saying so instead of failing.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
}

/** URL path → file, type. */
const FILES: ReadonlyArray<[path: string, file: string, type: string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/chat.js', 'chat.js', 'text/javascript; charset=utf-8'],
  ['/chat.css', 'chat.css', 'text/css; charset=utf-8'],
  // The look the chat page and the editor page (/edit/<name>) share.
  ['/theme.css', 'theme.css', 'text/css; charset=utf-8'],
];

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wavecast relay</title></head>
<body><h1>wavecast relay</h1><p>The chat page has not been built. Run <code>npm run build</code>, then restart the relay.
WebSocket channels, HTTP publish, /healthz and /metrics work without it.</p></body></html>
`;

export interface PageAssets {
  get(path: string): Asset | undefined;
  /** Whether the built page was found (false: the page says it was not built). */
  readonly built: boolean;
}

/** Loads the page's `files` from `dir` (default: the chat page, from the page/ folder beside this module once compiled). */
export function loadPageAssets(
  dir: URL = new URL('./page/', import.meta.url),
  files: ReadonlyArray<[path: string, file: string, type: string]> = FILES,
): PageAssets {
  const assets = new Map<string, Asset>();
  let built = true;
  for (const [path, file, type] of files) {
    try {
      assets.set(path, { body: readFileSync(fileURLToPath(new URL(file, dir))), type });
    } catch {
      built = false;
    }
  }
  if (!built) {
    assets.clear();
    assets.set('/', { body: Buffer.from(NOT_BUILT), type: 'text/html; charset=utf-8' });
  }
  return { get: (path) => assets.get(path), built };
}
