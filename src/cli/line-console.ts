// The terminal side of `wavecast connect` (both when it connects and when it listens): lines come in from
// a prompt (stdin and stdout both terminals: line editing, history) or from a pipe (every line, read no
// faster than it can be sent); received messages go out marked and coloured on a terminal, as they are
// when piped; status lines go to stderr, above the prompt. Nothing here knows about WebSockets.
import type { EventEmitter } from 'node:events';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { formatPiped, formatTerminal, maskPasswords, paint, type ColourName } from './connect-format.js';

/** Where the command reads and writes; tests pass their own streams. */
export interface ConsoleIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Where SIGINT and SIGTERM come from (default: the process); null to listen for none. */
  signals: EventEmitter | null;
}

export interface ConsoleHandlers {
  /** A line typed (not empty) or piped (every one, empty ones too). */
  line(text: string): void;
  /** Ctrl-D, or the end of the piped input, or input that cannot be read. */
  end(): void;
  /** Ctrl-C at the prompt, SIGINT or SIGTERM. */
  interrupt(): void;
  /** The reader of stdout went away (`| head -1`). */
  outputGone(): void;
}

export class LineConsole {
  /** stdout is a terminal: received messages are marked (and coloured unless told not to). */
  readonly terminal: boolean;
  /** A prompt: stdin and stdout both terminals, and input wanted. */
  readonly interactive: boolean;
  private readonly colour: boolean;
  private readonly stderrColour: boolean;
  private prompt: Interface | null = null;
  private lines: Interface | null = null;
  private paused = false;
  private outputGone = false;
  private started = false;
  private readonly onSignal = () => this.handlers.interrupt();
  private readonly onOutputError = () => {
    this.outputGone = true;
    this.handlers.outputGone();
  };
  private readonly onErrorOutputError = () => {};

  constructor(
    private readonly io: ConsoleIO,
    private readonly handlers: ConsoleHandlers,
    options: { noColor: boolean; readsInput: boolean },
  ) {
    const coloursAllowed = !options.noColor && !(io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '');
    this.terminal = io.stdout.isTTY === true;
    this.colour = this.terminal && coloursAllowed;
    this.stderrColour = io.stderr.isTTY === true && coloursAllowed;
    this.interactive = options.readsInput && this.terminal && io.stdin.isTTY === true;
    io.signals?.on('SIGINT', this.onSignal);
    io.signals?.on('SIGTERM', this.onSignal);
    io.stdout.on('error', this.onOutputError);
    io.stderr.on('error', this.onErrorOutputError);
  }

  /** Starts reading lines: a prompt on a terminal, line by line from a pipe. */
  startInput(): void {
    if (this.started) return;
    this.started = true;
    if (this.interactive) this.startPrompt();
    else this.startLines();
  }

  /** Piped input: stop reading (before it starts, too), and go on. A prompt is never paused. */
  pause(): void {
    if (this.paused || this.interactive) return;
    this.paused = true;
    this.lines?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.lines?.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Stops reading input and takes the prompt away; `end` is not called. */
  stopInput(): void {
    const prompt = this.prompt;
    if (prompt !== null) {
      this.prompt = null;
      prompt.close();
      this.clearPromptLine();
    }
    const lines = this.lines;
    if (lines !== null) {
      this.lines = null;
      lines.close();
    }
  }

  /** Stops input and lets go of the streams and signals: the console is done. */
  dispose(): void {
    this.stopInput();
    this.io.signals?.off('SIGINT', this.onSignal);
    this.io.signals?.off('SIGTERM', this.onSignal);
    this.io.stdout.off('error', this.onOutputError);
    this.io.stderr.off('error', this.onErrorOutputError);
  }

  /** A received message on stdout. */
  message(data: Buffer, isBinary: boolean): void {
    if (this.outputGone) return;
    const text = this.terminal ? formatTerminal(data, isBinary, this.colour) : formatPiped(data, isBinary);
    this.abovePrompt(() => this.io.stdout.write(text));
  }

  /** A status line on stderr (passwords in URLs masked), above the prompt when there is one. */
  note(text: string, colour: ColourName): void {
    this.abovePrompt(() => this.io.stderr.write(paint(this.stderrColour, colour, maskPasswords(text)) + '\n'));
  }

  private startPrompt(): void {
    const rl = createInterface({ input: this.io.stdin, output: this.io.stdout, terminal: true, prompt: '> ', historySize: 500 });
    this.prompt = rl;
    rl.on('line', (line) => {
      if (line !== '') this.handlers.line(line);
      if (this.prompt === rl) rl.prompt();
    });
    rl.on('SIGINT', () => this.handlers.interrupt());
    rl.on('error', (error) => this.inputFailed(error));
    rl.on('close', () => {
      // Ctrl-D (or the terminal went away).
      if (this.prompt !== rl) return;
      this.prompt = null;
      this.clearPromptLine();
      this.handlers.end();
    });
    rl.prompt();
  }

  private startLines(): void {
    const rl = createInterface({ input: this.io.stdin, terminal: false, crlfDelay: Infinity });
    this.lines = rl;
    if (this.paused) rl.pause();
    rl.on('line', (line) => this.handlers.line(line));
    rl.on('error', (error) => this.inputFailed(error));
    rl.on('close', () => {
      if (this.lines !== rl) return;
      this.lines = null;
      this.handlers.end();
    });
  }

  /** The input could not be read (EIO on a terminal that went away, say): as at its end. */
  private inputFailed(error: Error): void {
    this.note(`cannot read the input: ${error.message}`, 'red');
    this.stopInput();
    this.handlers.end();
  }

  /** Writes without mangling the line being typed: clears the prompt, writes, then draws it again. */
  private abovePrompt(write: () => void): void {
    const prompt = this.prompt;
    if (prompt === null) {
      write();
      return;
    }
    this.clearPromptLine();
    write();
    prompt.prompt(true);
  }

  private clearPromptLine(): void {
    if (!this.interactive || this.outputGone) return;
    clearLine(this.io.stdout, 0);
    cursorTo(this.io.stdout, 0);
  }
}

/**
 * Asks `question` on the terminal and reads the answer without showing it (for a passphrase). Resolves
 * with null when stdin is not a terminal, or on Ctrl-C or Ctrl-D.
 */
export function askHidden(io: ConsoleIO, question: string): Promise<string | null> {
  const { stdin } = io;
  if (stdin.isTTY !== true || typeof stdin.setRawMode !== 'function') return Promise.resolve(null);
  // Raw (no echo) before the question: what is typed as soon as it shows is not echoed either.
  stdin.setRawMode(true);
  io.stderr.write(question);
  const decoder = new StringDecoder('utf8');
  return new Promise((resolve) => {
    let answer: string[] = [];
    const done = (value: string | null) => {
      stdin.off('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      io.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of typeof chunk === 'string' ? chunk : decoder.write(chunk)) {
        if (char === '\r' || char === '\n') return done(answer.join(''));
        if (char === '\u0003' || char === '\u0004') return done(null);
        if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1);
        else answer.push(char);
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
