// A load generator in a child process, spoken to over IPC: messages it sends wait in an inbox until the
// runner asks for the next one of a type; asking after it exited without sending one rejects.
import { fork, type ChildProcess } from 'node:child_process';

export class LoadChild<From extends { type: string }, To> {
  private readonly _child: ChildProcess;
  private readonly _inbox: From[] = [];
  private _wake: (() => void) | null = null;
  readonly exited: Promise<void>;

  constructor(module: URL) {
    this._child = fork(module, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this._child.on('message', (message: From) => {
      this._inbox.push(message);
      this._wake?.();
    });
    this.exited = new Promise((resolve) => this._child.once('exit', () => resolve()));
  }

  tell(message: To): void {
    this._child.send(message as object);
  }

  async next<T extends From['type']>(type: T): Promise<Extract<From, { type: T }>> {
    for (;;) {
      const index = this._inbox.findIndex((m) => m.type === type);
      if (index !== -1) return this._inbox.splice(index, 1)[0] as Extract<From, { type: T }>;
      const gone = await Promise.race([new Promise<false>((resolve) => (this._wake = () => resolve(false))), this.exited.then(() => true)]);
      if (gone && !this._inbox.some((m) => m.type === type)) throw new Error(`the load generator exited before sending '${type}'`);
    }
  }

  /** Kills it if it is still running. */
  kill(): void {
    if (this._child.exitCode === null && this._child.signalCode === null) this._child.kill();
  }
}
