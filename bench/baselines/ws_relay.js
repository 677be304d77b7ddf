// The same bare relay on Node.js with the `ws` package (NODE_PATH must hold `ws`).
// Run: node bench/baselines/ws_relay.js 8766
"use strict";
const http = require("http");
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2]);
const rooms = new Map();
let next = 1;

const server = http.createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404);
  res.end("ok");
});
const wss = new WebSocketServer({ server });

wss.on("connection", (ws, req) => {
  const roomId = req.url.split("?")[0].split("/").pop();
  if (!rooms.has(roomId)) rooms.set(roomId, new Map());
  const room = rooms.get(roomId);
  const peerId = "p" + next++;
  ws.on("message", (raw) => {
    const data = JSON.parse(raw.toString());
    if (data.type === "join") {
      const peers = [...room.keys()].map((p) => ({ peer_id: p }));
      ws.send(JSON.stringify({ type: "welcome", peer_id: peerId, peers }));
      const joined = JSON.stringify({ type: "peer-joined", peer: { peer_id: peerId } });
      for (const other of room.values()) other.send(joined);
      room.set(peerId, ws);
    } else if (data.to !== undefined) {
      const target = room.get(data.to);
      delete data.to;
      if (target) {
        data.from = peerId;
        target.send(JSON.stringify(data));
      }
    }
  });
  ws.on("close", () => room.delete(peerId));
});

server.listen(port, "127.0.0.1");
