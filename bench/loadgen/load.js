// Load generator for the messaging benchmarks: many real socket.io-client sockets in one process.
//
//   node load.js <mode> <config.json>
//
// Modes: inbox (steady send rate ladder), capacity (idle joined sockets), history (join-to-history
// and inbox latency of one user). Results are JSON lines on stdout ({"type": ...}); the
// orchestrator (bench/run.py) reads them. Everything is bounded: every wait has a deadline, and
// the process exits on its own when its mode is done.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

const [mode, configPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, "utf8"));

function emit(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

function summary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// Runs `task(i)` for i in [0, count) with at most `limit` in flight; returns the elapsed seconds.
async function pooled(count, limit, task) {
  const started = performance.now();
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return (performance.now() - started) / 1000;
}

function connect(token) {
  const socket = io(config.url + config.namespace, {
    path: config.path,
    transports: ["websocket"],
    auth: { token },
    reconnection: false,
    forceNew: true,
    timeout: 30000,
  });
  return withDeadline(
    new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(socket));
      socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
    }),
    60000,
    "connect",
  ).catch((err) => {
    socket.close();
    throw err;
  });
}

function join(socket, roomId) {
  return withDeadline(
    new Promise((resolve, reject) => {
      const onHistory = (payload) => {
        if (payload.roomId !== roomId) return;
        socket.off("hub:history", onHistory);
        socket.off("hub:error", onError);
        resolve(payload);
      };
      const onError = (payload) => {
        if (payload.roomId !== roomId) return;
        socket.off("hub:history", onHistory);
        socket.off("hub:error", onError);
        reject(new Error(`hub:error ${payload.code}: ${payload.error}`));
      };
      socket.on("hub:history", onHistory);
      socket.on("hub:error", onError);
      socket.emit("hub:join", { roomId });
    }),
    60000,
    "join",
  );
}

async function connectAndJoin(entries, limit) {
  const sockets = new Array(entries.length);
  const connectSeconds = await pooled(entries.length, limit, async (i) => {
    sockets[i] = await connect(entries[i].token);
  });
  const joinSeconds = await pooled(entries.length, limit, async (i) => {
    await join(sockets[i], entries[i].roomId);
  });
  return { sockets, connectSeconds, joinSeconds };
}

function closeAll(sockets) {
  for (const socket of sockets) if (socket) socket.close();
}

// --- inbox: every socket of every 2-user room sends at a steady share of the offered rate -------

async function inbox() {
  const entries = [];
  for (const room of config.rooms) {
    for (const token of room.tokens) entries.push({ token, roomId: room.roomId });
  }
  const { sockets } = await connectAndJoin(entries, config.concurrency);
  emit({ type: "ready", sockets: sockets.length });

  // Per step: what was sent, and what arrived where. A message's body carries its step, its send
  // time and its sender's index, so arrivals need no lookup table.
  let step = null;
  let errors = 0;
  sockets.forEach((socket, index) => {
    socket.on("hub:error", () => {
      errors += 1;
    });
    socket.on("hub:messageArrived", ({ message }) => {
      const now = performance.now();
      const parts = String(message?.content?.body ?? "").split(" ");
      if (parts[0] !== "b" || step === null || Number(parts[1]) !== step.index) return;
      const sentAt = Number(parts[2]);
      if (Number(parts[3]) === index) {
        step.echoed += 1;
        return;
      }
      step.delivered += 1;
      if (sentAt >= step.windowStart && sentAt < step.windowEnd) {
        step.latencies.push(now - sentAt);
        if (now < step.windowEnd) step.deliveredInWindow += 1;
      }
    });
  });

  // A step that fails is run once more before the ladder stops: one stall (a collector pause, a
  // neighbour on the machine) should not end the ladder, a rate the server cannot carry fails twice.
  let index = 0;
  let rung = 0;
  let again = false;
  while (rung < config.rates.length) {
    const rate = config.rates[rung];
    const started = performance.now();
    step = {
      index,
      rate,
      sent: 0,
      echoed: 0,
      delivered: 0,
      deliveredInWindow: 0,
      latencies: [],
      windowStart: started + config.warmupSeconds * 1000,
      windowEnd: started + (config.warmupSeconds + config.measureSeconds) * 1000,
    };
    const stopAt = step.windowEnd;
    let cursor = 0;
    // Open loop: each tick sends whatever the offered rate owes by now, round-robin over sockets,
    // so a slow server builds a backlog (and latency) instead of slowing the senders down.
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        const due = Math.floor(((Math.min(now, stopAt) - started) / 1000) * rate);
        while (step.sent < due) {
          const socket = sockets[cursor];
          socket.emit("hub:send", {
            roomId: entries[cursor].roomId,
            messageType: "text",
            content: { body: `b ${index} ${performance.now().toFixed(3)} ${cursor}` },
          });
          step.sent += 1;
          cursor = (cursor + 1) % sockets.length;
        }
        if (now >= stopAt) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
    // Let the backlog drain (bounded) so the next step starts clean.
    const drainUntil = performance.now() + config.drainSeconds * 1000;
    while (step.delivered < step.sent && performance.now() < drainUntil) await sleep(50);
    const latency = summary(step.latencies);
    const offeredInWindow = rate * config.measureSeconds;
    const result = {
      type: "step",
      rate,
      sent: step.sent,
      stored: step.echoed,
      delivered: step.delivered,
      deliveredPerSecond: step.deliveredInWindow / config.measureSeconds,
      keptUp: step.latencies.length >= 0.95 * offeredInWindow && step.delivered >= 0.99 * step.sent,
      p50: latency.p50,
      p99: latency.p99,
      max: latency.max,
      errors,
      again,
    };
    emit(result);
    index += 1;
    const passed = result.keptUp && latency.p99 !== null && latency.p99 <= config.maxP99Ms;
    if (passed) {
      rung += 1;
      again = false;
    } else if (again) {
      break;
    } else {
      again = true;
    }
  }
  closeAll(sockets);
}

// --- capacity: idle sockets, each joined to a room; the orchestrator samples server memory -------

function waitForLine() {
  const lines = createInterface({ input: process.stdin });
  return withDeadline(
    new Promise((resolve) => lines.once("line", () => resolve())),
    600000,
    "orchestrator",
  ).finally(() => lines.close());
}

async function capacity() {
  const warm = config.entries.slice(0, config.warm);
  const rest = config.entries.slice(config.warm);
  const first = await connectAndJoin(warm, config.concurrency);
  emit({ type: "warm", sockets: first.sockets.length });
  await waitForLine();
  const second = await connectAndJoin(rest, config.concurrency);
  emit({
    type: "loaded",
    sockets: first.sockets.length + second.sockets.length,
    connectPerSecond: rest.length / second.connectSeconds,
    joinPerSecond: rest.length / second.joinSeconds,
  });
  await waitForLine();
  closeAll(first.sockets);
  closeAll(second.sockets);
}

// --- history: one user's join-to-history latency over their rooms, and their inbox latency -----

async function history() {
  const socket = await connect(config.token);
  const headers = { authorization: `Bearer ${config.token}` };
  // Warm-up, not recorded: first-use costs (statement caches, imports) are not what is measured.
  for (let i = 0; i < config.warmup; i++) {
    const roomId = config.roomIds[i % config.roomIds.length];
    await join(socket, roomId);
    await withDeadline(socket.emitWithAck("hub:leave", { roomId }), 60000, "leave");
    await (await fetch(config.inboxUrl, { headers })).arrayBuffer();
  }
  const joins = [];
  let messages = 0;
  for (let i = 0; i < config.joins; i++) {
    const roomId = config.roomIds[i % config.roomIds.length];
    const started = performance.now();
    const payload = await join(socket, roomId);
    joins.push(performance.now() - started);
    messages += payload.messages.length;
    await withDeadline(socket.emitWithAck("hub:leave", { roomId }), 60000, "leave");
  }
  socket.close();

  const inboxTimes = [];
  let unread = 0;
  let conversations = 0;
  for (let i = 0; i < config.inboxCalls; i++) {
    const started = performance.now();
    const response = await fetch(config.inboxUrl, { headers });
    const body = await response.json();
    inboxTimes.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`inbox answered ${response.status}`);
    const rows = body[body.dataName] ?? [];
    conversations = rows.length;
    unread = rows.reduce((sum, row) => sum + (row.unreadCount ?? 0), 0);
  }
  emit({
    type: "history",
    join: summary(joins),
    historyMessagesPerJoin: messages / Math.max(1, config.joins),
    inbox: summary(inboxTimes),
    inboxConversations: conversations,
    inboxUnread: unread,
  });
}

const modes = { inbox, capacity, history };
const run = modes[mode];
if (!run) {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
// A hard ceiling on the whole run, whatever happens.
setTimeout(() => {
  console.error("load generator: time limit reached");
  process.exit(3);
}, (config.timeLimitSeconds ?? 900) * 1000).unref();
run()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(`load generator failed: ${err.message}`);
    process.exit(1);
  });
