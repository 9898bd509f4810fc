// The end of an event-loop turn, shared by every connection of the process. A socket written to in a turn is
// corked until the turn ends, so that what one turn sends to it leaves in one write; and the turn's number
// tells the send path which of the bytes it holds were given to it in the current turn (those are not yet
// backlog: the socket has not been offered them) and which are left over from earlier turns.

/** A corked connection, uncorked when the turn ends. */
export interface TurnMember {
  _endOfTurn(): void;
}

let turn = 0;
let scheduled = false;
let corked: TurnMember[] = [];
/** How many connections the last turn that ended had in its list (wrote to). */
let lastTurnMembers = 0;

function endTurn(): void {
  scheduled = false;
  turn = (turn + 1) | 0;
  const list = corked;
  corked = [];
  lastTurnMembers = list.length;
  for (const member of list) member._endOfTurn();
}

/**
 * Whether the process is quiet: the last turn that ended wrote to one connection at most (low load, where
 * a write waiting for the turn's end only adds latency; under load the turn's writes are worth coalescing).
 */
export function quietProcess(): boolean {
  return lastTurnMembers <= 1;
}

function schedule(): void {
  scheduled = true;
  // setImmediate: after this turn's I/O callbacks have run, so that all they send leaves together.
  setImmediate(endTurn);
}

/** The current turn's number; the turn it names ends (and the number changes) before any timer or I/O runs again. */
export function currentTurn(): number {
  if (!scheduled) schedule();
  return turn;
}

/** Has `member._endOfTurn()` called when this turn ends. */
export function atEndOfTurn(member: TurnMember): void {
  corked.push(member);
  if (!scheduled) schedule();
}
