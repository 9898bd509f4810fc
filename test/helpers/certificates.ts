// Certificates made at test time with the openssl CLI: self-signed (each its own CA), for localhost and
// 127.0.0.1, valid for a day; the key in PEM, encrypted when a passphrase is given.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certificate {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/** Writes `name`.crt and `name`.key into `dir` and returns them. */
export function selfSigned(dir: string, name: string, options: { passphrase?: string } = {}): Certificate {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const keyProtection = options.passphrase === undefined ? ['-nodes'] : ['-passout', `pass:${options.passphrase}`];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      ...keyProtection,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      `/CN=${name} test CA`,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile, keyFile };
}
