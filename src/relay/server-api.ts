// The server API for backends (docs/auth.md): POST /api/<method> with a JSON body, answered with JSON,
// opened by the relay's --api-key only (never a client's token). Methods: publish (one channel or many),
// history, presence (with user ids), disconnect (a user, every connection, on every node), remove (a
// user from a channel, on every node), channels (with counts), info (this node). Bodies are bounded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from './access.js';
import { checkChannel } from './channel.js';
import type { HistoryRead } from './history.js';
import { refuseBody, send, settle, streamHistory, type RequestHandler } from './http-routes.js';
import type { Logger } from './log.js';
import type { Published } from './relay.js';

/** Most channels one publish may name. */
export const MAX_PUBLISH_CHANNELS = 1000;

export interface ServerApiOptions {
  access: Access;
  log: Logger;
  /** Largest message, in bytes (a request body may be a little more than twice that: base64 and JSON). */
  maxPayload: number;
  publish(channel: string, data: Buffer, binary: boolean): Published | Promise<Published>;
  readHistory(channel: string, since: number): HistoryRead | Promise<HistoryRead>;
  epoch(): string;
  /** Connections on a channel (every node), and the verified users among them. */
  presence(channel: string): { online: number; names: string[]; users: Array<{ user: string; name: string }> };
  /** Closes every connection of a user on every node; answers how many on this node. */
  disconnect(user: string): number;
  /** Takes a user off a channel on every node; answers how many connections on this node. */
  remove(user: string, channel: string): number;
  /** Channels with connections (every node), with their counts. */
  channels(): Array<{ channel: string; online: number }>;
  info(): Record<string, unknown>;
}

type Body = Record<string, unknown>;

class BadRequest extends Error {}

export function createServerApi(options: ServerApiOptions): RequestHandler {
  return (request, response) => {
    const denied = options.access.checkBackend(request);
    if (denied) return refuseBody(response, denied);
    const path = (request.url ?? '/').split('?')[0]!;
    const method = path.slice('/api/'.length);
    if (!METHODS.includes(method))
      return refuseBody(response, {
        status: 404,
        body: `No server API method ${JSON.stringify(method.slice(0, 32))}; there are ${METHODS.join(', ')}`,
      });
    if (request.method !== 'POST')
      return refuseBody(response, {
        status: 405,
        body: 'Server API methods are called with POST and a JSON body',
        headers: { Allow: 'POST' },
      });
    settle(options, request, response, call(options, method, request, response));
  };
}

const METHODS = ['publish', 'history', 'presence', 'disconnect', 'remove', 'channels', 'info'];

async function call(options: ServerApiOptions, method: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  let body: Body;
  try {
    body = await readJson(request, options.maxPayload * 2 + 64 * 1024);
  } catch (error) {
    return refuseBody(response, { status: error instanceof TooLarge ? 413 : 400, body: (error as Error).message });
  }
  try {
    switch (method) {
      case 'publish':
        return await publish(options, body, response);
      case 'history': {
        const channel = channelOf(body.channel, 'channel');
        const since = body.since === undefined ? 0 : body.since;
        if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0)
          throw new BadRequest('"since" must be a sequence number (a whole number, 0 or more)');
        const read = await options.readHistory(channel, since);
        const head: Record<string, unknown> = { channel, epoch: options.epoch(), latest: read.latest };
        if (since > read.latest) head.reset = true;
        if (read.lost !== undefined) head.lost = read.lost;
        return await streamHistory(request, response, head, read.messages);
      }
      case 'presence': {
        const channel = channelOf(body.channel, 'channel');
        return json(response, { channel, ...options.presence(channel) });
      }
      case 'disconnect': {
        const user = userOf(body.user);
        const disconnected = options.disconnect(user);
        options.log.info('server API: user disconnected', { user, connections: disconnected });
        return json(response, { user, disconnected });
      }
      case 'remove': {
        const user = userOf(body.user);
        const channel = channelOf(body.channel, 'channel');
        const removed = options.remove(user, channel);
        options.log.info('server API: user removed from a channel', { user, channel, connections: removed });
        return json(response, { user, channel, removed });
      }
      case 'channels':
        return json(response, { channels: options.channels() });
      default:
        return json(response, options.info());
    }
  } catch (error) {
    if (error instanceof BadRequest) return send(response, 400, error.message + '\n');
    throw error;
  }
}

/** publish: {"channel": "x"} or {"channels": [...]}, "data" (text, or base64 with "binary": true). */
async function publish(options: ServerApiOptions, body: Body, response: ServerResponse): Promise<void> {
  const names = body.channels !== undefined ? body.channels : [body.channel];
  if (!Array.isArray(names) || names.length === 0 || names.length > MAX_PUBLISH_CHANNELS) {
    throw new BadRequest(`Name the channel ("channel": "lobby") or channels ("channels": [...], at most ${MAX_PUBLISH_CHANNELS})`);
  }
  const channels = names.map((name) => channelOf(name, 'channels'));
  if (typeof body.data !== 'string') throw new BadRequest('"data" must be a string (base64 with "binary": true)');
  const binary = body.binary === true;
  const data = binary ? Buffer.from(body.data, 'base64') : Buffer.from(body.data);
  if (data.length > options.maxPayload)
    return send(response, 413, `The message is larger than the relay's limit of ${options.maxPayload} bytes\n`);
  const results = await Promise.all(
    channels.map((channel) =>
      Promise.resolve(options.publish(channel, data, binary)).then(
        ({ message, delivered }) => ({ channel, seq: message.seq, delivered }),
        (error: unknown) => {
          options.log.warn('server API publish failed', { channel, error: String(error) });
          return { channel, error: 'The message could not be stored in the channel history; try again' };
        },
      ),
    ),
  );
  json(response, { results }, results.some((result) => 'error' in result) ? 503 : 200);
}

function channelOf(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new BadRequest(`"${field}" must name a channel (a string)`);
  const checked = checkChannel(value);
  if (!checked.ok) throw new BadRequest(checked.message);
  return checked.channel;
}

function userOf(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > 128)
    throw new BadRequest('"user" must be a user id (a string of 1 to 128 characters)');
  return value;
}

function json(response: ServerResponse, value: unknown, status = 200): void {
  send(response, status, JSON.stringify(value) + '\n', { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
}

class TooLarge extends Error {}

/** Reads a JSON object body of at most `limit` bytes (an empty body is {}). */
function readJson(request: IncomingMessage, limit: number): Promise<Body> {
  return new Promise<Body>((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (declared > limit) return reject(new TooLarge(`The request body is larger than ${limit} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.pause();
        reject(new TooLarge(`The request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      if (text.trim() === '') return resolve({});
      try {
        const value = JSON.parse(text) as unknown;
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(new Error('The body must be a JSON object'));
        resolve(value as Body);
      } catch (error) {
        reject(new Error(`The body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}
