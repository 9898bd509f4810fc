#!/usr/bin/env node
// Builds the relay's chat page into dist/relay/page/: chat.js bundled from src/relay/page/chat.ts by
// esbuild (a dev dependency: the built page ships, esbuild does not), with index.html and chat.css
// copied beside it. Run by `npm run build` after tsc has type-checked the page.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const from = 'src/relay/page';
const to = 'dist/relay/page';
mkdirSync(to, { recursive: true });
await build({
  entryPoints: [`${from}/chat.ts`],
  outfile: `${to}/chat.js`,
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'chat.css']) copyFileSync(`${from}/${file}`, `${to}/${file}`);
