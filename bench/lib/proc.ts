// A child process the runner talks to over IPC: messages are queued until someone waits for their type;
// an `error` or `unsupported` message, or the child's exit, fails every wait with the reason.
import { fork, type ChildProcess } from 'node:child_process';

export class ChildFailure extends Error {
  constructor(
    message: string,
    readonly unsupported = false,
  ) {
    super(message);
  }
}

interface Waiter<T> {
  types: string[];
  resolve: (msg: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Child<T extends { type: string }> {
  private readonly queue: T[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private failure: ChildFailure | null = null;
  private stderrTail = '';
  readonly exited: Promise<void>;
  /** Rejects with the reason once the child has failed or exited; race a wait against it. */
  readonly died: Promise<never>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (msg: T) => this.push(msg));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-3000);
    });
    child.stdout?.resume();
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.fail(new ChildFailure(`${name} exited (${signal ?? `code ${code}`})${this.tail()}`));
        resolve();
      });
    });
    child.on('error', (err) => this.fail(new ChildFailure(`${name}: ${err.message}`)));
    this.died = new Promise<never>((_, reject) => (this.onDeath = reject));
    this.died.catch(() => {});
  }

  private onDeath: (err: Error) => void = () => {};

  static fork<T extends { type: string }>(
    name: string,
    script: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; execArgv?: string[]; cpus?: string } = {},
  ): Child<T> {
    // Pinned to CPUs: fork runs `execPath ...execArgv script ...args`, so taskset goes in front of node.
    const pin = options.cpus ? { execPath: 'taskset', execArgv: ['-c', options.cpus, process.execPath] } : null;
    const child = fork(script, args, {
      env: options.env ?? process.env,
      ...(pin ? { execPath: pin.execPath } : {}),
      execArgv: [...(pin ? pin.execArgv : []), ...(options.execArgv ?? [])],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    return new Child<T>(name, child);
  }

  private tail(): string {
    const t = this.stderrTail.trim();
    return t ? `\n    ${t.split('\n').slice(-12).join('\n    ')}` : '';
  }

  private fail(err: ChildFailure): void {
    if (!this.failure) this.failure = err;
    this.onDeath(this.failure);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
  }

  private push(msg: T): void {
    const m = msg as unknown as { type: string; message?: string; reason?: string };
    if (m.type === 'error') return this.fail(new ChildFailure(`${this.name}: ${m.message}`));
    if (m.type === 'unsupported') return this.fail(new ChildFailure(m.reason ?? 'unsupported', true));
    const i = this.waiters.findIndex((w) => w.types.includes(msg.type));
    if (i < 0) {
      this.queue.push(msg);
      return;
    }
    const [w] = this.waiters.splice(i, 1);
    clearTimeout(w!.timer);
    w!.resolve(msg);
  }

  send(msg: object): void {
    if (this.child.connected) this.child.send(msg);
  }

  next<K extends T['type']>(type: K, timeoutMs: number): Promise<Extract<T, { type: K }>> {
    const i = this.queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0] as Extract<T, { type: K }>);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const idx = this.waiters.indexOf(waiter);
        if (idx >= 0) this.waiters.splice(idx, 1);
        reject(new ChildFailure(`${this.name}: no '${type}' within ${Math.round(timeoutMs / 1000)} s${this.tail()}`));
      }, timeoutMs);
      const waiter: Waiter<T> = { types: [type], resolve: resolve as (m: T) => void, reject, timer };
      this.waiters.push(waiter);
    });
  }

  /** Asks the child to exit, and kills it (this child only, by its pid) if it has not within `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ cmd: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
