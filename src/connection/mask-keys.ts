// Masking keys for client frames (RFC 6455 5.3) come from a cryptographic source, drawn in batches so
// that a frame costs a subarray, not a randomFillSync call.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8 * 1024;
let pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** Four fresh random bytes. The view stays valid: a used pool is replaced, never refilled in place. */
export function maskKey(): Buffer {
  if (offset === POOL_SIZE) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    offset = 0;
  }
  const key = pool.subarray(offset, offset + 4);
  offset += 4;
  return key;
}
