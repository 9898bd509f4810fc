// Verifies JWT connection tokens with the `jose` library (an optional peer dependency, loaded here only
// when the relay is started with --jwt-secret or --jwt-key): HS256 with a shared secret, or RS256,
// ES256 and EdDSA with a public key (PEM) or a JWKS file. Only the algorithms of the configured key are
// accepted (never "none"); exp and nbf are checked with a small clock skew. Each refusal has a reason.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { identityOfClaims, type Identity } from './identity.js';

type Jose = typeof import('jose');

export interface JwtSettings {
  /** HS256 shared secret. */
  secret?: string | undefined;
  /** A PEM public key, or a JWKS file (JSON with "keys"). */
  keyFile?: string | undefined;
  /** Clock skew allowed on exp and nbf, in seconds. */
  leeway: number;
}

/** Longest token accepted, in characters. */
export const MAX_TOKEN_LENGTH = 8192;

export type Verified = { ok: true; identity: Identity } | { ok: false; reason: string };

/** The code of the errors `JwtVerifier.create` rejects with: jose is not installed, or the key is unusable. */
export const JWT_UNAVAILABLE = 'WAVECAST_JWT_UNAVAILABLE';

function unavailable(message: string): Error {
  const error = new Error(message);
  (error as Error & { code: string }).code = JWT_UNAVAILABLE;
  return error;
}

export class JwtVerifier {
  private constructor(
    private readonly _jose: Jose,
    private readonly _key: Uint8Array | KeyObject | ReturnType<Jose['createLocalJWKSet']>,
    private readonly _algorithms: string[],
    private readonly _leeway: number,
  ) {}

  /** Loads jose and the key; rejects with a clear error if jose is missing or the key cannot be read. */
  static async create(settings: JwtSettings): Promise<JwtVerifier> {
    let jose: Jose;
    try {
      jose = await import('jose');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
      throw unavailable(
        'JWT tokens (--jwt-secret, --jwt-key) need the jose package (an optional peer dependency of wavecast): npm install jose',
      );
    }
    if (settings.secret !== undefined) {
      return new JwtVerifier(jose, new TextEncoder().encode(settings.secret), ['HS256'], settings.leeway);
    }
    if (settings.keyFile === undefined) throw unavailable('a JWT secret or key file is needed');
    let text: string;
    try {
      text = readFileSync(settings.keyFile, 'utf8');
    } catch (error) {
      throw unavailable(
        `--jwt-key: cannot read ${settings.keyFile} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    }
    if (text.trimStart().startsWith('{')) {
      let jwks: { keys?: unknown };
      try {
        jwks = JSON.parse(text) as { keys?: unknown };
      } catch (error) {
        throw unavailable(`${settings.keyFile} is neither a PEM public key nor a JWKS file: ${(error as Error).message}`);
      }
      if (!Array.isArray(jwks.keys)) throw unavailable(`${settings.keyFile}: a JWKS file is a JSON object with a "keys" list`);
      return new JwtVerifier(
        jose,
        jose.createLocalJWKSet(jwks as Parameters<Jose['createLocalJWKSet']>[0]),
        ['RS256', 'ES256', 'EdDSA', 'Ed25519'],
        settings.leeway,
      );
    }
    let key: KeyObject;
    try {
      key = createPublicKey(text);
    } catch (error) {
      throw unavailable(`${settings.keyFile} is not a PEM public key: ${(error as Error).message}`);
    }
    return new JwtVerifier(jose, key, algorithmsOf(key, settings.keyFile), settings.leeway);
  }

  /** The algorithms tokens may be signed with. */
  get algorithms(): readonly string[] {
    return this._algorithms;
  }

  async verify(token: string): Promise<Verified> {
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: `The token is longer than ${MAX_TOKEN_LENGTH} characters` };
    let payload: Record<string, unknown>;
    try {
      const options = { algorithms: this._algorithms, clockTolerance: this._leeway };
      const key = this._key;
      const result =
        typeof key === 'function' ? await this._jose.jwtVerify(token, key, options) : await this._jose.jwtVerify(token, key, options);
      payload = result.payload as Record<string, unknown>;
    } catch (error) {
      return { ok: false, reason: this._reason(error, token) };
    }
    const claims = identityOfClaims(payload);
    return claims.ok ? claims : { ok: false, reason: claims.reason };
  }

  private _reason(error: unknown, token: string): string {
    const code = (error as { code?: unknown }).code;
    const claim = (error as { claim?: unknown }).claim;
    switch (code) {
      case 'ERR_JWT_EXPIRED':
        return 'The token has expired (exp is past)';
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        return claim === 'nbf' ? 'The token is not valid yet (nbf is in the future)' : `The token's "${String(claim)}" claim is not valid`;
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED': {
        const alg = headerAlg(token);
        return alg === 'none'
          ? 'Unsigned tokens (alg "none") are refused'
          : `The token's algorithm ${JSON.stringify(alg)} is not accepted here (accepted: ${this._algorithms.join(', ')})`;
      }
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return "The token's signature is not valid";
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return "No key of the relay's key set matches the token (its kid or alg)";
      default:
        return 'The token is not a valid JWT';
    }
  }
}

/** The algorithm of a token's header, read without trusting it (for the refusal's reason only). */
function headerAlg(token: string): string {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg.slice(0, 16) : '?';
  } catch {
    return '?';
  }
}

/** The one algorithm a public key verifies: RS256 (RSA), ES256 (P-256), EdDSA (Ed25519). */
function algorithmsOf(key: KeyObject, file: string): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256'];
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
        throw unavailable(`${file}: an EC key for ES256 must be on the P-256 curve`);
      return ['ES256'];
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      throw unavailable(
        `${file}: a ${String(key.asymmetricKeyType)} key is not supported (RSA for RS256, P-256 for ES256, Ed25519 for EdDSA)`,
      );
  }
}
