import { WebSocketServer } from 'wavecast';
const wss = new WebSocketServer({ port: 3000 });
wss.on('connection', function (socket) {
  socket.on('message', function (message) {
    wss.clients.forEach(function (client) { client.send(message); });
  });
});
