#!/usr/bin/env node
// Builds the relay's pages into dist/relay/page/: the chat page's chat.js bundled from
// src/relay/page/chat.ts, and the editor page's edit.js from edit.ts (with Yjs, y-websocket, CodeMirror
// and y-codemirror.next inside it), by esbuild (a dev dependency: the built pages ship, esbuild and the
// editor's packages do not), with their HTML and CSS copied beside them. Run by `npm run build` after
// tsc has type-checked the pages.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const from = 'src/relay/page';
const to = 'dist/relay/page';
mkdirSync(to, { recursive: true });
const common = {
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [`${from}/chat.ts`], outfile: `${to}/chat.js` });
// The editor's packages destructure in ways esbuild cannot lower for the chat page's oldest targets.
await build({
  ...common,
  entryPoints: [`${from}/edit.ts`],
  outfile: `${to}/edit.js`,
  target: ['es2022', 'chrome105', 'firefox105', 'safari16'],
});
for (const file of ['index.html', 'theme.css', 'chat.css', 'edit.html', 'edit.css']) copyFileSync(`${from}/${file}`, `${to}/${file}`);
