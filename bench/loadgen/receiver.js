// A webhook receiver for the benchmark: answers every POST with 204 at once and counts them.
//   GET /health -> 200; GET /count -> {"received": n, "ids": distinct event ids}
//
//   node receiver.js <port>
import { createServer } from "node:http";

const port = Number(process.argv[2]);
let received = 0;
const ids = new Set();

const server = createServer((req, res) => {
  if (req.method === "POST") {
    req.on("data", () => {});
    req.on("end", () => {
      received += 1;
      const id = req.headers["x-tutorhub-event-id"];
      if (typeof id === "string") ids.add(id);
      res.writeHead(204);
      res.end();
    });
    return;
  }
  const body = req.url === "/count" ? JSON.stringify({ received, ids: ids.size }) : '{"status":"ok"}';
  res.writeHead(req.url === "/health" || req.url === "/count" ? 200 : 404, {
    "content-type": "application/json",
  });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1");
