// The realtime hub through the official socket.io-client, connected as the hub guide shows:
// namespace {baseUrl}/hub/chat, Socket.IO path {prefix}/socket.io/, the token in auth.
import { io } from "socket.io-client";
import { PREFIX } from "./api.js";

export function connectHub(token) {
  return io(`${location.origin}${PREFIX}/hub/chat`, {
    path: `${PREFIX}/socket.io/`,
    auth: { token },
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
  });
}

// An emit whose ack resolves the promise ({success, ...}); a timeout counts as a failure.
export function request(socket, event, payload, timeoutMs = 10000) {
  return new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
      if (err) resolve({ success: false, error: "The service did not answer in time.", code: "TIMEOUT" });
      else resolve(ack || { success: false, error: "No answer", code: "INTERNAL" });
    });
  });
}
