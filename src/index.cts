// The CommonJS entry: `require('wavecast')` is the WebSocket class, as `require('ws')` is, carrying
// WebSocket, WebSocketServer, Server and createWebSocketStream (and, for TypeScript, the type names of
// @types/ws: WebSocket.RawData, WebSocket.ServerOptions...). It loads the ES module (require() of an ES
// module: Node 20.19 and later), so both entries share one class: no second copy of the library.
import Wavecast = require('./index.js');
import WebSocket = Wavecast.WebSocket;
export = WebSocket;
