// Bare Node socket.io relay: the benchmark's second baseline. The protocol subset the load
// generator uses, nothing else: no auth, no storage, no checks.
//   hub:join {roomId}  -> hub:joined + hub:history (empty) to the socket, then room join
//   hub:send {roomId, messageType, content} -> hub:messageArrived to the whole room (sender too)
//   hub:leave {roomId} -> room leave (acked when the client asks)
//
//   node relay.js <port>
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const httpServer = createServer((req, res) => {
  res.writeHead(req.url === "/health" ? 200 : 404, { "content-type": "application/json" });
  res.end('{"status":"ok"}');
});
const io = new Server(httpServer, { path: "/socket.io/", perMessageDeflate: false, cors: { origin: "*" } });
const hub = io.of("/hub/chat");

hub.on("connection", (socket) => {
  socket.on("hub:join", (data, ack) => {
    const roomId = data?.roomId;
    if (typeof roomId !== "string") return;
    socket.emit("hub:joined", { roomId, hubRole: "member", userInfo: { fullname: null, avatar: null } });
    socket.emit("hub:history", { roomId, messages: [] });
    socket.join(roomId);
    if (typeof ack === "function") ack({ success: true });
  });
  socket.on("hub:leave", (data, ack) => {
    if (typeof data?.roomId === "string") socket.leave(data.roomId);
    if (typeof ack === "function") ack({ success: true });
  });
  socket.on("hub:send", (data) => {
    const roomId = data?.roomId;
    if (typeof roomId !== "string") return;
    const now = new Date().toISOString();
    hub.to(roomId).emit("hub:messageArrived", {
      roomId,
      sender: { id: socket.id, fullname: null, avatar: null },
      message: { id: randomUUID(), roomId, messageType: data.messageType, content: data.content, timestamp: now },
    });
  });
});

httpServer.listen(port, "127.0.0.1");
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
