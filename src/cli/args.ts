// A small command-line flag parser: declared flags with types and defaults, --help text from the same
// declarations, and a UsageError (exit status 2) for anything it does not know.

export type FlagType = 'string' | 'number' | 'boolean' | 'list';

export interface FlagSpec {
  type: FlagType;
  /** One-letter alias, without the dash. */
  short?: string;
  /** Shown in --help; also the value when the flag is absent (lists default to []). */
  default?: string | number | boolean;
  /** Name of the value in --help (e.g. PORT). */
  value?: string;
  description: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

export interface Parsed {
  flags: FlagValues;
  positionals: string[];
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Parses argv (without node and the script) against the specs. Flag names come back camelCased. */
export function parseArgs(argv: readonly string[], specs: Record<string, FlagSpec>, env: NodeJS.ProcessEnv = process.env): Parsed {
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);
  const flags: FlagValues = {};
  const positionals: string[] = [];
  const set = (name: string, raw: string | undefined, source: string) => {
    const spec = specs[name]!;
    const key = camel(name);
    if (spec.type === 'boolean') {
      if (raw === undefined || raw === 'true') flags[key] = true;
      else if (raw === 'false') flags[key] = false;
      else throw new UsageError(`${source} takes no value (got "${raw}")`);
      return;
    }
    if (raw === undefined) throw new UsageError(`${source} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    if (spec.type === 'number') {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${source} needs a number, not "${raw}"`);
      flags[key] = value;
    } else if (spec.type === 'list') {
      const list = (flags[key] as string[] | undefined) ?? [];
      list.push(raw);
      flags[key] = list;
    } else {
      flags[key] = raw;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      let inline: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
      if (!(name in specs) && name.startsWith('no-') && specs[name.slice(3)]?.type === 'boolean' && inline === undefined) {
        name = name.slice(3);
        inline = 'false';
      }
      const spec = specs[name];
      if (!spec) throw new UsageError(`unknown option --${name}`);
      if (spec.type !== 'boolean' && inline === undefined) {
        inline = argv[++i];
      }
      set(name, inline, `--${name}`);
    } else if (arg.startsWith('-') && arg.length > 1) {
      const letter = arg[1]!;
      const name = byShort.get(letter);
      if (!name) throw new UsageError(`unknown option -${letter}`);
      const spec = specs[name]!;
      let value: string | undefined = arg.length > 2 ? arg.slice(2) : undefined;
      if (spec.type !== 'boolean' && value === undefined) value = argv[++i];
      set(name, value, `-${letter}`);
    } else {
      positionals.push(arg);
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const key = camel(name);
    if (flags[key] !== undefined) continue;
    if (spec.env && env[spec.env] !== undefined && env[spec.env] !== '') {
      set(name, env[spec.env], `$${spec.env}`);
    } else if (spec.type === 'list') {
      flags[key] = [];
    } else if (spec.default !== undefined) {
      flags[key] = spec.default;
    }
  }
  return { flags, positionals };
}

/** The --help text: usage line, then one line per flag with its default. */
export function helpText(usage: string, description: string, specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    const value = spec.type === 'boolean' ? '' : ` ${spec.value ?? spec.type.toUpperCase()}`;
    const extras: string[] = [];
    if (spec.default !== undefined) extras.push(`default: ${String(spec.default)}`);
    if (spec.env) extras.push(`env: ${spec.env}`);
    return [`  ${short}--${name}${value}`, spec.description + (extras.length ? ` (${extras.join('; ')})` : '')];
  });
  const width = Math.max(...rows.map(([left]) => left!.length)) + 2;
  return [`Usage: ${usage}`, '', description, '', 'Options:', ...rows.map(([left, right]) => left!.padEnd(width) + right)].join('\n') + '\n';
}
