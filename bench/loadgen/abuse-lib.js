// Shared by the abuse scenario's modules: its configuration (the file named on the command line),
// JSON-line output, bounded waits and the socket.io-client calls every part uses.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

export const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

export function emit(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const now = () => performance.now();

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

export function summary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
  };
}

export function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// Runs `task(i)` for i in [0, count) with at most `limit` in flight.
export async function pooled(count, limit, task) {
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

export function tally(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

// Milliseconds left until `stopAt`, within [floor, ceiling]: how long one wait may take.
export function budget(stopAt, floor = 500, ceiling = 10000) {
  return Math.max(floor, Math.min(ceiling, stopAt - now() + 2000));
}

export function connect(token, namespace = config.namespace, timeoutMs = 30000) {
  const socket = io(config.url + namespace, {
    path: config.path,
    transports: ["websocket"],
    auth: { token },
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
  });
  return withDeadline(
    new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(socket));
      socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
    }),
    timeoutMs + 1000,
    "connect",
  ).catch((err) => {
    socket.close();
    throw err;
  });
}

export async function join(socket, roomId, timeoutMs = 30000) {
  const ack = await socket.timeout(timeoutMs).emitWithAck("hub:join", { roomId });
  if (!ack?.success) throw new Error(`join refused: ${ack?.code} ${ack?.error}`);
}

export function closeAll(sockets) {
  for (const socket of sockets) if (socket) socket.close();
}

export function waitForLine() {
  const lines = createInterface({ input: process.stdin });
  return withDeadline(
    new Promise((resolve) => lines.once("line", () => resolve())),
    600000,
    "orchestrator",
  ).finally(() => lines.close());
}
