// The relay's log: one line per event on a writer (stderr by default), as text for people or as JSON
// for log collectors, with events below the chosen level left out.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Extra facts about an event, printed as key=value (text) or as fields (JSON). */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Whether events of `level` are written (to skip building fields nobody reads). */
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go (default: process.stderr). Each call gets one line ending in a newline. */
  write?: (line: string) => void;
  /** The clock (default: Date.now), for tests. */
  now?: () => number;
  /** Fields written on every line (such as which worker process wrote it). */
  fields?: LogFields;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? 'info'];
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;
  const base = options.fields;
  const log = (level: LogLevel, message: string, own?: LogFields) => {
    if (RANK[level] < threshold) return;
    const fields = base === undefined ? own : { ...base, ...own };
    const time = new Date(now()).toISOString();
    write(format === 'json' ? jsonLine(time, level, message, fields) : textLine(time, level, message, fields));
  };
  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
    enabled: (level) => RANK[level] >= threshold,
  };
}

function jsonLine(time: string, level: LogLevel, message: string, fields: LogFields | undefined): string {
  const record: Record<string, unknown> = { time, level, msg: message };
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && !(key in record)) record[key] = value;
    }
  }
  return JSON.stringify(record) + '\n';
}

function textLine(time: string, level: LogLevel, message: string, fields: LogFields | undefined): string {
  let line = `${time} ${level.padEnd(5)} ${oneLine(message)}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${textValue(value)}`;
    }
  }
  return line + '\n';
}

/** A value as it reads in a text line: bare when it is a plain word, JSON-quoted otherwise. */
function textValue(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return String(value);
  return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}

/** Keeps a message on one line whatever it holds (a reason sent by a peer, say). */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
