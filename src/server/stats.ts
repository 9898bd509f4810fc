// Counters a server keeps about what its policies did, for logs and metrics (read `wss.stats`).

export interface ServerStats {
  /** Published or broadcast messages skipped for slow clients (policy 'drop'). */
  droppedMessages: number;
  /** Connections closed with 1008 for going over maxBackpressure (policy 'close'). */
  slowClientCloses: number;
  /** Connections terminated for not answering a heartbeat ping in time. */
  heartbeatTimeouts: number;
  /** Connections closed after idleTimeout without a message either way. */
  idleCloses: number;
  /** Opening handshakes dropped for not completing within handshakeTimeout. */
  handshakeTimeouts: number;
  /** Upgrades refused by a limit or a hook: origin, maxConnections, maxConnectionsPerIp, verifyClient, authenticate. */
  rejectedUpgrades: number;
  /** Connections dropped unanswered because their address had twice maxConnectionsPerIp open. */
  perAddressDrops: number;
}

export function createStats(): ServerStats {
  return {
    droppedMessages: 0,
    slowClientCloses: 0,
    heartbeatTimeouts: 0,
    idleCloses: 0,
    handshakeTimeouts: 0,
    rejectedUpgrades: 0,
    perAddressDrops: 0,
  };
}
