// Placeholder: `wavecast serve` is built on another branch, whose serve.ts replaces this file.
export async function runServe(_argv: string[]): Promise<number> {
  process.stderr.write('wavecast serve is not built yet\n');
  return 1;
}
