// The commands' flags: declared once with their types and defaults, read by node:util parseArgs, checked
// here (numbers, environment variables, defaults), and shown by --help. Anything wrong is a UsageError
// (exit status 2) saying what, and an unknown flag names the closest known one.
import { parseArgs as readTokens } from 'node:util';

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
  /**
   * A string flag whose value may be left out (`--passphrase` alone: last, or before another option or
   * a URL): it is then `true`. A value that starts with '-' or looks like a URL goes after '='.
   */
  optionalValue?: boolean;
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

export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Marks an optional-value flag given without a value (no real value holds a NUL). */
const NO_VALUE = '\u0000';

/** Parses argv (without node and the script) against the specs. Flag names come back camelCased. */
export function parseArgs(argv: readonly string[], specs: Record<string, FlagSpec>, env: NodeJS.ProcessEnv = process.env): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.type === 'list' ? { multiple: true } : {}),
    };
  }
  // Not strict: parseArgs then takes "-w -1" as a value (as wscat users type it) and hands back unknown
  // options as tokens, which are reported below with a suggestion.
  const { tokens } = readTokens({ args: withOptionalValues(argv, specs), options, strict: false, allowPositionals: true, tokens: true });
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
    if (raw === NO_VALUE && spec.optionalValue) {
      flags[key] = true;
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
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    let name = token.name;
    let value = token.value;
    if (!Object.hasOwn(specs, name) && name.startsWith('no-') && specs[name.slice(3)]?.type === 'boolean' && value === undefined) {
      // --no-verbose for any boolean --verbose.
      name = name.slice(3);
      value = 'false';
    }
    if (!Object.hasOwn(specs, name)) throw new UsageError(unknownOption(token.rawName, specs));
    if (
      token.inlineValue === false &&
      value !== undefined &&
      value.startsWith('--') &&
      Object.hasOwn(specs, value.slice(2).split('=')[0]!)
    ) {
      // "--origin --subprotocol x": the value was forgotten, not meant to be "--subprotocol".
      throw new UsageError(`${token.rawName} needs a value${specs[name]!.value ? ` (${specs[name]!.value})` : ''} before ${value}`);
    }
    set(name, value, token.rawName);
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

/** Gives an optional-value flag that has no value the NO_VALUE mark, so that the next option stays one. */
function withOptionalValues(argv: readonly string[], specs: Record<string, FlagSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    out.push(arg);
    if (arg === '--') {
      out.push(...argv.slice(i + 1));
      break;
    }
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name === undefined || !specs[name]?.optionalValue) continue;
    // Not a value: nothing, an option, or a URL (the command's argument: `--passphrase wss://host/`).
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && next !== '-') || /^[a-z][a-z0-9+.-]*:\/\//i.test(next))
      out[out.length - 1] = `${arg}=${NO_VALUE}`;
  }
  return out;
}

/** "unknown option --colour (did you mean --no-color?)", or a pointer to --help. */
function unknownOption(raw: string, specs: Record<string, FlagSpec>): string {
  const closest = closestFlag(raw, specs);
  return `unknown option ${raw}${closest !== undefined ? ` (did you mean ${closest}?)` : ''}`;
}

/** The known flag closest to `raw` in spelling, if one is close enough to be what was meant. */
export function closestFlag(raw: string, specs: Record<string, FlagSpec>): string | undefined {
  const given = raw.replace(/^-+/, '');
  if (!raw.startsWith('--')) {
    // A short flag in the wrong case (-X for -x), or the long flag it is the first letter of.
    const letter = given[0] ?? '';
    for (const [name, spec] of Object.entries(specs))
      if (spec.short !== undefined && spec.short.toLowerCase() === letter.toLowerCase()) return `-${spec.short}, --${name}`;
    return undefined;
  }
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(specs)) {
    // [spelling compared, flag suggested]: --colour is close to --no-color's "color".
    const candidates: Array<[string, string]> = [[name, name]];
    if (name.startsWith('no-')) candidates.push([name.slice(3), name]);
    else if (specs[name]!.type === 'boolean') candidates.push([`no-${name}`, `no-${name}`]);
    for (const [spelling, flag] of candidates) {
      // A prefix of a flag (--sub for --subprotocol) is as good as one typo.
      const distance = spelling.startsWith(given) && given.length >= 3 ? 1 : editDistance(given, spelling);
      if (best === undefined || distance < best.distance) best = { name: flag, distance };
    }
  }
  if (best === undefined || best.distance > Math.max(2, Math.floor(given.length / 3))) return undefined;
  return `--${best.name}`;
}

/** Levenshtein distance, with a swap of two neighbouring letters counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]![j] = j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The --help text: usage line, then one line per flag with its default. */
export function helpText(usage: string, description: string, specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    const placeholder = spec.value ?? spec.type.toUpperCase();
    const value = spec.type === 'boolean' ? '' : spec.optionalValue ? ` [${placeholder}]` : ` ${placeholder}`;
    const extras: string[] = [];
    if (spec.default !== undefined) extras.push(`default: ${String(spec.default)}`);
    if (spec.env) extras.push(`env: ${spec.env}`);
    return [`  ${short}--${name}${value}`, spec.description + (extras.length ? ` (${extras.join('; ')})` : '')];
  });
  const width = Math.max(...rows.map(([left]) => left!.length)) + 2;
  return (
    [`Usage: ${usage}`, '', description, '', 'Options:', ...rows.map(([left, right]) => left!.padEnd(width) + right)].join('\n') + '\n'
  );
}

/** A number flag's value, checked to be `min` or more. */
export function number(flags: FlagValues, name: string, min: number): number {
  const value = flags[camel(name)] as number;
  if (!(value >= min)) throw new UsageError(`--${name} must be ${min} or more, not ${value}`);
  return value;
}

/** A whole-number flag's value, checked to be from `min` to `max`. */
export function integer(flags: FlagValues, name: string, min: number, max: number): number {
  const value = flags[camel(name)] as number;
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be a whole number ${range}, not ${value}`);
  }
  return value;
}
