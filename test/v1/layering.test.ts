// The wavecast.v1 module stays pure and the browser client a leaf: checked on the sources, as DESIGN.md's layers say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../../src/', import.meta.url));
const sources = (folder: string) =>
  readdirSync(src + folder)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ name: `${folder}/${name}`, text: readFileSync(`${src}${folder}/${name}`, 'utf8') }));
const imports = (text: string) => [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms)].map((match) => match[1]!);

test('the v1 module imports nothing and uses neither Buffer nor any Node API', () => {
  const files = sources('v1');
  assert.ok(files.length > 0);
  for (const { name, text } of files) {
    assert.deepEqual(imports(text), [], name);
    assert.doesNotMatch(text.replace(/^\s*(\/\/|\*).*$/gm, ''), /\bBuffer\b|\bprocess\.|node:/, name);
  }
});

test('the browser client imports only itself and the v1 module', () => {
  const files = sources('browser');
  assert.ok(
    files.some(({ text }) => imports(text).includes('../v1/protocol.js')),
    'the browser client uses the v1 module',
  );
  for (const { name, text } of files) {
    for (const from of imports(text)) assert.match(from, /^\.\/[\w-]+\.js$|^\.\.\/v1\/[\w-]+\.js$/, `${name} imports ${from}`);
  }
});
