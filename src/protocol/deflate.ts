// permessage-deflate (RFC 7692): the options and the negotiation of its parameters in both roles (pure
// functions over Sec-WebSocket-Extensions values); the zlib side is connection/deflate-codec.ts.
import type { ZlibOptions } from 'node:zlib';
import { formatExtensions, parseExtensions, type ExtensionOffer, type ExtensionParam } from './handshake.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** The `perMessageDeflate` option of the server and the client, as the `ws` package has it. */
export interface PerMessageDeflateOptions {
  /**
   * Server: true always answers with server_no_context_takeover (the server resets its compressor after
   * each message); false declines offers that ask for it. Client: true asks for it.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: true asks the client to reset its compressor after each message. Client: true offers it
   * (and resets whatever the server answers); false refuses a server that asks for it.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Server: the largest window (8 to 15 bits) its compressor uses, lowered to what the client asks for;
   * false declines offers that limit it. Client: a number asks the server to use at most that window.
   */
  serverMaxWindowBits?: number | boolean;
  /**
   * Server: a number is the largest window it lets the client use (offers that cannot be limited are
   * declined); false never limits it. Client: a number offers at most that window, true (the default)
   * offers the parameter without a value, false leaves it out.
   */
  clientMaxWindowBits?: number | boolean;
  /**
   * Options for zlib's deflateRaw (level, memLevel, strategy, chunkSize...); windowBits is negotiated.
   * Typed to take what `@types/ws` allows as well (its `dictionary` may be an array; zlib refuses one).
   */
  zlibDeflateOptions?: ZlibOptions | (Omit<ZlibOptions, 'dictionary'> & { dictionary?: ZlibOptions['dictionary'] | Buffer[] });
  /** Options for zlib's inflateRaw (chunkSize...); windowBits is negotiated. */
  zlibInflateOptions?: ZlibOptions;
  /** Messages smaller than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** How many zlib operations may run at once in the process (default 10). */
  concurrencyLimit?: number;
}

/** Options checked and completed with their defaults. */
export interface ResolvedDeflateOptions {
  serverNoContextTakeover: boolean | undefined;
  clientNoContextTakeover: boolean | undefined;
  serverMaxWindowBits: number | boolean | undefined;
  clientMaxWindowBits: number | boolean | undefined;
  zlibDeflateOptions: ZlibOptions;
  zlibInflateOptions: ZlibOptions;
  threshold: number;
  concurrencyLimit: number;
}

/** The parameters in force on a connection once negotiated. Window sizes are in bits (8 to 15). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** What negotiation agreed on: the extension as the server's response names it, and its parameters. */
export interface DeflateAgreement {
  /** The Sec-WebSocket-Extensions value of the server's response. */
  response: string;
  params: DeflateParams;
}

export type DeflateNegotiation = { ok: true; agreement: DeflateAgreement | null } | { ok: false; message: string };

export const DEFAULT_THRESHOLD = 1024;
export const DEFAULT_CONCURRENCY_LIMIT = 10;
const MAX_WINDOW_BITS = 15;

/**
 * Checks a `perMessageDeflate` option and fills in the defaults. Returns null when it is off (false,
 * undefined or null). Throws a RangeError for a window size outside 8-15 or a bad threshold or limit.
 */
export function resolveDeflateOptions(option: boolean | PerMessageDeflateOptions | null | undefined): ResolvedDeflateOptions | null {
  if (!option) return null;
  const o: PerMessageDeflateOptions = option === true ? {} : option;
  checkWindowOption('serverMaxWindowBits', o.serverMaxWindowBits);
  checkWindowOption('clientMaxWindowBits', o.clientMaxWindowBits);
  const threshold = o.threshold ?? DEFAULT_THRESHOLD;
  if (!(threshold >= 0)) throw new RangeError(`Invalid perMessageDeflate threshold: ${String(o.threshold)}`);
  const concurrencyLimit = o.concurrencyLimit ?? DEFAULT_CONCURRENCY_LIMIT;
  if (!Number.isInteger(concurrencyLimit) || concurrencyLimit < 1) {
    throw new RangeError(`Invalid perMessageDeflate concurrencyLimit: ${String(o.concurrencyLimit)}`);
  }
  return {
    serverNoContextTakeover: o.serverNoContextTakeover,
    clientNoContextTakeover: o.clientNoContextTakeover,
    serverMaxWindowBits: o.serverMaxWindowBits,
    clientMaxWindowBits: o.clientMaxWindowBits,
    zlibDeflateOptions: (o.zlibDeflateOptions ?? {}) as ZlibOptions,
    zlibInflateOptions: o.zlibInflateOptions ?? {},
    threshold,
    concurrencyLimit,
  };
}

function checkWindowOption(name: string, value: unknown): void {
  if (value === undefined || typeof value === 'boolean') return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 8 || value > MAX_WINDOW_BITS) {
    throw new RangeError(`Invalid perMessageDeflate ${name}: ${String(value)} (expected an integer from 8 to 15)`);
  }
}

// ---------------------------------------------------------------- parameters of one offer or response

interface ReceivedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  /** true: present without a value (legal only in a client's offer). */
  clientMaxWindowBits: number | true | null;
}

/** Reads the parameters of one permessage-deflate element, or says what is wrong with them. */
function readParams(params: readonly ExtensionParam[], isOffer: boolean): ReceivedParams | string {
  const out: ReceivedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return `parameter "${name}" appears more than once`;
    seen.add(name);
    if (name === 'server_no_context_takeover' || name === 'client_no_context_takeover') {
      if (value !== true) return `parameter "${name}" takes no value`;
      if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true;
      else out.clientNoContextTakeover = true;
    } else if (name === 'server_max_window_bits' || name === 'client_max_window_bits') {
      if (value === true && name === 'client_max_window_bits' && isOffer) {
        out.clientMaxWindowBits = true;
        continue;
      }
      const bits = windowBits(value);
      if (bits === null)
        return value === true ? `parameter "${name}" needs a value` : `invalid value "${value}" for "${name}": expected 8 to 15`;
      if (name === 'server_max_window_bits') out.serverMaxWindowBits = bits;
      else out.clientMaxWindowBits = bits;
    } else {
      return `unknown parameter "${name}"`;
    }
  }
  return out;
}

/** A window size in bits: a decimal integer from 8 to 15 without leading zeros (RFC 7692 7.1.2). */
function windowBits(value: string | true): number | null {
  return typeof value === 'string' && /^(?:[89]|1[0-5])$/.test(value) ? Number(value) : null;
}

function format(p: DeflateParams, withServerBits: boolean, withClientBits: boolean): string {
  const params: ExtensionParam[] = [];
  if (p.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (p.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (withServerBits) params.push(['server_max_window_bits', String(p.serverMaxWindowBits)]);
  if (withClientBits) params.push(['client_max_window_bits', String(p.clientMaxWindowBits)]);
  return formatExtensions([{ name: PERMESSAGE_DEFLATE, params }]);
}

// ---------------------------------------------------------------- the server's side

/**
 * Chooses the first acceptable permessage-deflate offer of a client's Sec-WebSocket-Extensions header
 * (RFC 7692 7.1). An offer with a duplicate or unknown parameter or a bad value is declined, as is one
 * our options cannot meet; other extensions are ignored. `agreement` is null when every offer is
 * declined; `ok` is false only for a header that does not parse.
 */
export function negotiateDeflateAsServer(header: string, options: ResolvedDeflateOptions): DeflateNegotiation {
  const offers = parseExtensions(header);
  if (offers === null) return { ok: false, message: 'Invalid Sec-WebSocket-Extensions header' };
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const params = readParams(offer.params, true);
    if (typeof params === 'string') continue;
    const agreement = acceptOffer(params, options);
    if (agreement !== null) return { ok: true, agreement };
  }
  return { ok: true, agreement: null };
}

function acceptOffer(offer: ReceivedParams, options: ResolvedDeflateOptions): DeflateAgreement | null {
  if (options.serverNoContextTakeover === false && offer.serverNoContextTakeover) return null;
  if (options.serverMaxWindowBits === false && offer.serverMaxWindowBits !== null) return null;
  // Limiting the client's window is only possible when it said it can be limited (7.1.2.2).
  if (typeof options.clientMaxWindowBits === 'number' && offer.clientMaxWindowBits === null) return null;

  // Our compressor: the smaller of what the client allows and what we are configured for.
  let serverBits = offer.serverMaxWindowBits;
  if (typeof options.serverMaxWindowBits === 'number') serverBits = Math.min(options.serverMaxWindowBits, serverBits ?? MAX_WINDOW_BITS);

  // The client's compressor: answered only when offered, never above an offered value.
  let clientBits: number | null = null;
  if (offer.clientMaxWindowBits !== null && options.clientMaxWindowBits !== false) {
    const offered = offer.clientMaxWindowBits === true ? MAX_WINDOW_BITS : offer.clientMaxWindowBits;
    if (typeof options.clientMaxWindowBits === 'number') clientBits = Math.min(options.clientMaxWindowBits, offered);
    else if (offer.clientMaxWindowBits !== true) clientBits = offered;
  }

  const params: DeflateParams = {
    serverNoContextTakeover: offer.serverNoContextTakeover || options.serverNoContextTakeover === true,
    // A client that offers client_no_context_takeover resets anyway: saying so lets us free our inflater.
    clientNoContextTakeover: offer.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: serverBits ?? MAX_WINDOW_BITS,
    clientMaxWindowBits: clientBits ?? MAX_WINDOW_BITS,
  };
  return { response: format(params, serverBits !== null, clientBits !== null), params };
}

// ---------------------------------------------------------------- the client's side

/** The Sec-WebSocket-Extensions value a client sends to offer permessage-deflate with these options. */
export function deflateOffer(options: ResolvedDeflateOptions): string {
  const params: ExtensionParam[] = [];
  if (options.serverNoContextTakeover === true) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover === true) params.push(['client_no_context_takeover', true]);
  if (typeof options.serverMaxWindowBits === 'number') params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  if (typeof options.clientMaxWindowBits === 'number') params.push(['client_max_window_bits', String(options.clientMaxWindowBits)]);
  else if (options.clientMaxWindowBits !== false) params.push(['client_max_window_bits', true]);
  return formatExtensions([{ name: PERMESSAGE_DEFLATE, params }]);
}

/**
 * Checks the Sec-WebSocket-Extensions header of a server's response against the offer made with
 * `options` (null when the client offered nothing). `agreement` is null when the server declined;
 * `ok` false means the client must fail the connection, for the reason in `message`.
 */
export function acceptDeflateResponse(header: string | undefined, options: ResolvedDeflateOptions | null): DeflateNegotiation {
  if (header === undefined || header.trim() === '') return { ok: true, agreement: null };
  const extensions = parseExtensions(header);
  if (extensions === null) return fail('Invalid Sec-WebSocket-Extensions header in the server response');
  if (extensions.length === 0) return { ok: true, agreement: null };
  for (const extension of extensions) {
    if (options === null || extension.name !== PERMESSAGE_DEFLATE) {
      return fail(`Server indicated an extension that was not requested: ${extension.name}`);
    }
  }
  if (extensions.length > 1) return fail('Server accepted permessage-deflate more than once');
  return acceptDeflateElement(extensions[0]!, header.trim(), options!);
}

/**
 * acceptDeflateResponse() for a response already parsed: checks its one permessage-deflate element
 * (`response` is the header's value, for the agreement) against the offer made with `options`.
 */
export function acceptDeflateElement(element: ExtensionOffer, response: string, options: ResolvedDeflateOptions): DeflateNegotiation {
  const got = readParams(element.params, false);
  if (typeof got === 'string') return fail(`Invalid permessage-deflate response: ${got}`);
  const o = options;

  if (o.serverNoContextTakeover === true && !got.serverNoContextTakeover) {
    return fail('Server did not accept server_no_context_takeover');
  }
  if (o.clientNoContextTakeover === false && got.clientNoContextTakeover) {
    return fail('Server asked for client_no_context_takeover, which the client refuses');
  }
  const serverBits = got.serverMaxWindowBits;
  if (typeof o.serverMaxWindowBits === 'number') {
    if (serverBits === null) return fail('Server did not accept server_max_window_bits');
    if (serverBits > o.serverMaxWindowBits)
      return fail(`Server answered server_max_window_bits=${serverBits}, above the ${o.serverMaxWindowBits} offered`);
  }
  let clientBits = got.clientMaxWindowBits as number | null;
  if (clientBits !== null) {
    if (o.clientMaxWindowBits === false) return fail('Server sent client_max_window_bits, which was not offered');
    if (typeof o.clientMaxWindowBits === 'number' && clientBits > o.clientMaxWindowBits) {
      return fail(`Server answered client_max_window_bits=${clientBits}, above the ${o.clientMaxWindowBits} offered`);
    }
  } else if (typeof o.clientMaxWindowBits === 'number') {
    // An offered value binds the client whatever the server answers (7.1.2.2).
    clientBits = o.clientMaxWindowBits;
  }
  const params: DeflateParams = {
    serverNoContextTakeover: got.serverNoContextTakeover,
    clientNoContextTakeover: got.clientNoContextTakeover || o.clientNoContextTakeover === true,
    serverMaxWindowBits: serverBits ?? MAX_WINDOW_BITS,
    clientMaxWindowBits: clientBits ?? MAX_WINDOW_BITS,
  };
  return { ok: true, agreement: { response, params } };
}

function fail(message: string): DeflateNegotiation {
  return { ok: false, message };
}
