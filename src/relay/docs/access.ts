// Who may do what with a collaborative document. The relay asks one hook, with the request (a WebSocket
// upgrade, or an HTTP read or write of the document) and the document's name, once the relay's own
// checks (origin, --token) have passed. The hook answers 'read-write', 'read-only', or a Denial
// (status and body) that refuses the request. Identity-based permissions plug in here.
//
// With user tokens, the user's own claims narrow the answer: docs_write patterns keep it, docs_read ones
// make it read-only, a document in neither is refused (403).
//
// The default: read-write for whoever may connect, read-only for the documents whose names match one of
// the --docs-readonly patterns ("*" stands for any run of characters, "/" included: "handbook/*").
import type { IncomingMessage } from 'node:http';
import type { Denial } from '../access.js';
import { Patterns, type Identity } from '../identity.js';

export type DocPermission = 'read-write' | 'read-only';

export type DocAccessHook = (request: IncomingMessage, doc: string) => DocPermission | Denial | Promise<DocPermission | Denial>;

/** The default hook: read-only for documents matching any of `patterns`, read-write for the others. */
export function readOnlyPatterns(patterns: readonly string[]): DocAccessHook {
  if (patterns.length === 0) return () => 'read-write';
  const readOnly = new Patterns(patterns);
  return (_request, doc) => (readOnly.allows(doc) ? 'read-only' : 'read-write');
}

/** Asks the hook, turning a throw or a bad answer into a 500 refusal (never a crash). */
export async function decide(hook: DocAccessHook, request: IncomingMessage, doc: string): Promise<DocPermission | Denial> {
  try {
    const answer = await hook(request, doc);
    if (answer === 'read-write' || answer === 'read-only') return answer;
    if (answer !== null && typeof answer === 'object' && typeof answer.status === 'number') return answer;
    return { status: 500, body: 'The document access check gave no answer' };
  } catch (error) {
    return { status: 500, body: `The document access check failed: ${String((error as Error)?.message ?? error)}` };
  }
}

/** The hook's answer narrowed by a verified user's document claims (anonymous: as the hook said). */
export function narrow(identity: Identity, doc: string, permission: DocPermission | Denial): DocPermission | Denial {
  if (typeof permission !== 'string' || identity.user === null || identity.docsWrite.allows(doc)) return permission;
  if (identity.docsRead.allows(doc)) return 'read-only';
  return { status: 403, body: `User ${JSON.stringify(identity.user)} may not open the document ${JSON.stringify(doc)}` };
}
