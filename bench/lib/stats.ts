// The benchmark's statistics over rounds: median, min, max.
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

/** The value at fraction `p` (0..1) of `sorted` (ascending), nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** A growing list of samples in a Float64Array (no boxing on the hot path). */
export class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;

  push(x: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = x;
  }

  at(i: number): number {
    return this.data[i]!;
  }

  /** p50 and p99 of the samples, and how many there were. */
  summary(): { p50: number; p99: number; count: number } {
    const sorted = this.data.slice(0, this.length).sort();
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), count: this.length };
  }
}
