// `wavecast serve`'s flags for collaborative documents (Yjs, on ws://host/docs/<name>): where they are
// kept and their bounds. Checked here into the relay's DocsSettings.
import { integer, number, UsageError, type FlagSpec, type FlagValues } from './args.js';
import { DEFAULT_DOCS, type DocsSettings, type DocStoreSettings } from '../relay/docs/settings.js';
import type { ClusterSettings } from './serve-cluster.js';

export const DOCS_FLAGS: Record<string, FlagSpec> = {
  'data-dir': {
    type: 'string',
    default: './wavecast-data',
    env: 'WAVECAST_DATA_DIR',
    value: 'DIR',
    description:
      'where documents are kept (one file each under DIR/docs/), made when the first document is opened; unused with --postgres, or with --redis/--nats (the broker keeps them)',
  },
  postgres: {
    type: 'string',
    value: 'URL',
    description:
      'keep documents in PostgreSQL (postgres://user@host:5432/db; needs npm install pg), shared by every node that names it (default: none)',
  },
  'docs-readonly': {
    type: 'list',
    value: 'PATTERN',
    description:
      'documents whose names match are read-only: editors see them, their changes are refused (repeatable; * matches any run of characters: "handbook/*")',
  },
  'doc-max-bytes': {
    type: 'number',
    default: DEFAULT_DOCS.maxDocBytes,
    value: 'BYTES',
    description: 'largest document (encoded); an update past it is refused and its editor closed with 4413',
  },
  'doc-max-update': {
    type: 'number',
    default: DEFAULT_DOCS.maxUpdateBytes,
    value: 'BYTES',
    description: 'largest message an editor may send (1009 beyond) or a backend may POST (413)',
  },
  'doc-rate-limit': {
    type: 'number',
    default: DEFAULT_DOCS.rate.rate,
    value: 'PER_SECOND',
    description: 'messages a second one editor may send (updates and cursor moves; 0: no limit); over it the editor is closed with 1008',
  },
  'doc-rate-burst': {
    type: 'number',
    default: DEFAULT_DOCS.rate.burst,
    value: 'MESSAGES',
    description: 'messages one editor may send at once before --doc-rate-limit applies',
  },
  'docs-max-open': {
    type: 'number',
    default: DEFAULT_DOCS.maxOpen,
    value: 'N',
    description: 'most documents open on this node at once; an editor of another one is refused with 503',
  },
};

/** The documents' settings from the flags; in a cluster without --postgres the broker keeps them. */
export function checkDocsFlags(flags: FlagValues, cluster: ClusterSettings | undefined): DocsSettings {
  const dataDir = String(flags.dataDir);
  if (dataDir.trim() === '') throw new UsageError('--data-dir needs a directory');
  const postgres = flags.postgres as string | undefined;
  if (postgres !== undefined && !/^postgres(ql)?:\/\/\S+$/.test(postgres))
    throw new UsageError(`--postgres needs a URL such as postgres://postgres@127.0.0.1:5432/wavecast, not "${postgres}"`);
  const readOnly = flags.docsReadonly as string[];
  for (const pattern of readOnly) if (pattern === '') throw new UsageError('--docs-readonly needs a document name or pattern');
  let store: DocStoreSettings;
  if (postgres !== undefined) store = { kind: 'postgres', url: postgres };
  else if (cluster !== undefined) store = { kind: cluster.broker, url: cluster.url, prefix: cluster.prefix };
  else store = { kind: 'files', dir: dataDir };
  return {
    store,
    readOnly,
    maxDocBytes: integer(flags, 'doc-max-bytes', 1024, Number.MAX_SAFE_INTEGER),
    maxUpdateBytes: integer(flags, 'doc-max-update', 64, 1024 * 1024 * 1024),
    maxOpen: integer(flags, 'docs-max-open', 1, Number.MAX_SAFE_INTEGER),
    rate: { rate: number(flags, 'doc-rate-limit', 0), burst: integer(flags, 'doc-rate-burst', 1, Number.MAX_SAFE_INTEGER) },
  };
}
