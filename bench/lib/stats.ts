export function median(values: number[]): number {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

export function min(values: number[]): number {
  const xs = values.filter((x) => Number.isFinite(x));
  return xs.length ? Math.min(...xs) : NaN;
}

export function max(values: number[]): number {
  const xs = values.filter((x) => Number.isFinite(x));
  return xs.length ? Math.max(...xs) : NaN;
}

export function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
