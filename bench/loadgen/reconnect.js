// Reconnect storm: many users, each with one socket (the official socket.io-client, its default
// reconnection and backoff) joined to its rooms, messages flowing at a steady rate. The
// orchestrator restarts the server; every client reconnects and rejoins each room with `after` =
// the id of the last message it holds, and keeps sending.
//
//   node reconnect.js <config.json>
//
// A message is generated for one (user, room) at the offered rate and waits in that user's outbox
// until its socket is connected and has rejoined the room; it is then sent with `hub:send` and a
// `clientMessageId`, and it is confirmed by its ack, by its echo in the room, or by its presence in
// a `hub:history`; one the server refuses is sent again a second later. A disconnect puts every unconfirmed message back in the outbox: it is sent again
// after the rejoin with the same `clientMessageId` (a server that stored it answers with the stored
// message and broadcasts nothing new). The recipient counts what arrives, live or in a history.
//
// stdin lines from the orchestrator: "stop <epoch ms>" just before it stops the server, "ready
// <epoch ms>" once the new process answers. JSON lines out: {"type":"ready"}, {"type":"steady"},
// {"type":"reconnect", ...}.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const emit = (record) => process.stdout.write(JSON.stringify(record) + "\n");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Date.now(); // wall clock: compared with the orchestrator's stop/ready times

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function until(predicate, ms) {
  const deadline = now() + ms;
  while (!predicate()) {
    if (now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

// --- what every user holds ------------------------------------------------------------------------

const users = config.users.map((entry, index) => ({
  index,
  token: entry.token,
  rooms: entry.rooms.map((roomId) => ({ roomId, lastId: null, joined: false })),
  outbox: [],
  unconfirmed: new Map(), // key -> message
  socket: null,
  connectedAt: null,
}));
const byRoom = new Map(); // roomId -> [user index, user index]
users.forEach((user) => user.rooms.forEach((room) => {
  if (!byRoom.has(room.roomId)) byRoom.set(room.roomId, []);
  byRoom.get(room.roomId).push(user.index);
}));
const generated = new Map(); // key -> {at, recipient}
const received = new Map(); // key -> arrivals at the recipient
let stopAt = null;
let readyAt = null;
let errors = 0;
const errorCodes = {};
const arrivals = new Map(); // key -> how each arrival came, for the duplicates' report
let connectErrors = 0;
// Rejoins after the stop: what is asked and answered, and when some were outstanding.
let rejoinsAsked = 0;
let rejoinsDone = 0;
let outstanding = 0;
let busySince = null;
let busyMs = 0;
let firstRejoinAt = null;
let lastRejoinAt = null;
const socketBackMs = []; // per socket: its reconnect -> its last room rejoined

function setOutstanding(delta) {
  if (outstanding === 0 && delta > 0) busySince = now();
  outstanding += delta;
  if (outstanding === 0 && busySince !== null) {
    busyMs += now() - busySince;
    busySince = null;
  }
}

function keyOf(body) {
  const parts = String(body ?? "").split(" ");
  return parts[0] === "r" ? parts[1] : null;
}

function confirm(user, key) {
  user.unconfirmed.delete(key);
}

function arrived(user, room, message, how) {
  if (message?.id) room.lastId = message.id;
  const key = keyOf(message?.content?.body);
  if (key === null) return;
  if (Number(key.split(".")[0]) === user.index) {
    confirm(user, key);
    return;
  }
  received.set(key, (received.get(key) ?? 0) + 1);
  if (!arrivals.has(key)) arrivals.set(key, []);
  arrivals.get(key).push(`${how}@${stopAt === null ? "before" : now() - stopAt}`);
}

function flush(user) {
  const socket = user.socket;
  if (!socket.connected) return;
  const waiting = [];
  for (const message of user.outbox) {
    const room = user.rooms[message.room];
    if (!room.joined) {
      waiting.push(message);
      continue;
    }
    user.unconfirmed.set(message.key, message);
    socket.emit(
      "hub:send",
      { roomId: room.roomId, messageType: "text", content: { body: `r ${message.key}` }, clientMessageId: message.key },
      (ack) => {
        if (ack?.success) {
          confirm(user, message.key);
        } else if (ack && user.unconfirmed.delete(message.key)) {
          // Refused (the server busy, or the room not joined yet): sent again a second later.
          setTimeout(() => {
            user.outbox.push(message);
            flush(user);
          }, 1000);
        }
      },
    );
  }
  user.outbox = waiting;
}

function roomOf(user, roomId) {
  return user.rooms.find((room) => room.roomId === roomId);
}

function joinAll(user) {
  const rejoin = stopAt !== null;
  user.connectedAt = now();
  for (const room of user.rooms) {
    if (rejoin) {
      rejoinsAsked += 1;
      if (firstRejoinAt === null) firstRejoinAt = now();
      setOutstanding(1);
      room.pending = true;
    }
    user.socket.emit("hub:join", room.lastId ? { roomId: room.roomId, after: room.lastId } : { roomId: room.roomId });
  }
}

function wire(user) {
  const socket = io(config.url + config.namespace, {
    path: config.path,
    transports: ["websocket"],
    auth: { token: user.token },
    forceNew: true,
    // Reconnection as the official client comes: on, 1 s to 5 s with a randomization of 0.5.
  });
  user.socket = socket;
  socket.on("connect", () => joinAll(user));
  socket.on("connect_error", () => {
    connectErrors += 1;
  });
  socket.on("disconnect", (reason) => {
    for (const room of user.rooms) {
      room.joined = false;
      if (room.pending) {
        room.pending = false;
        rejoinsAsked -= 1;
        setOutstanding(-1);
      }
    }
    // Unconfirmed messages go back to the outbox, to be sent again once the room is rejoined.
    user.outbox = [...user.unconfirmed.values(), ...user.outbox];
    user.unconfirmed.clear();
    // The client reconnects by itself unless the server ended the session at the Socket.IO level.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("hub:joined", ({ roomId }) => {
    const room = roomOf(user, roomId);
    if (!room || !room.pending) return;
    room.pending = false;
    rejoinsDone += 1;
    lastRejoinAt = now();
    setOutstanding(-1);
    if (user.rooms.every((r) => !r.pending)) socketBackMs.push(now() - user.connectedAt);
  });
  socket.on("hub:history", ({ roomId, messages }) => {
    const room = roomOf(user, roomId);
    if (!room) return;
    // Newest first without `after`, oldest first with it: either way every message counts once.
    const ordered = room.lastId ? messages : [...messages].reverse();
    for (const message of ordered) arrived(user, room, message, "history");
    room.joined = true;
    flush(user);
  });
  socket.on("hub:messageArrived", ({ roomId, message }) => {
    const room = roomOf(user, roomId);
    if (room) arrived(user, room, message, "live");
  });
  socket.on("hub:error", (payload) => {
    errors += 1;
    errorCodes[payload?.code] = (errorCodes[payload?.code] ?? 0) + 1;
    const room = payload?.roomId ? roomOf(user, payload.roomId) : null;
    // A refused join is asked again a second later (a rate limit, a server still starting).
    if (room && !room.joined && payload.code !== "NOT_JOINED") {
      setTimeout(() => {
        if (socket.connected && !room.joined) {
          const roomId = room.roomId;
          socket.emit("hub:join", room.lastId ? { roomId, after: room.lastId } : { roomId });
        }
      }, 1000);
    }
  });
  return new Promise((resolve) => socket.once("connect", resolve));
}

async function pooled(items, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// --- the run ---------------------------------------------------------------------------------------

async function main() {
  await pooled(users, config.concurrency, (user) => wire(user));
  const allJoined = () => users.every((user) => user.rooms.every((room) => room.joined));
  if (!(await until(allJoined, 120000))) throw new Error("not every room was joined");
  emit({ type: "ready", sockets: users.length, rooms: byRoom.size });

  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const [word, at] = line.trim().split(" ");
    if (word === "stop") stopAt = Number(at);
    if (word === "ready") readyAt = Number(at);
  });

  // Open loop over every (user, room) pair in turn, so each room gets messages from both sides.
  const pairs = users.flatMap((user) => user.rooms.map((_, room) => [user, room]));
  const started = now();
  let made = 0;
  let cursor = 0;
  let generating = true;
  const counters = users.map(() => 0);
  const generator = setInterval(() => {
    if (!generating) return;
    const due = Math.floor(((now() - started) / 1000) * config.rate);
    while (made < due) {
      const [user, room] = pairs[cursor];
      cursor = (cursor + 1) % pairs.length;
      const key = `${user.index}.${counters[user.index]++}`;
      const recipient = byRoom.get(user.rooms[room].roomId).find((index) => index !== user.index);
      generated.set(key, { at: now(), recipient });
      user.outbox.push({ key, room });
      made += 1;
      flush(user);
    }
  }, 10);

  await sleep(config.steadySeconds * 1000);
  emit({ type: "steady" });
  if (!(await until(() => stopAt !== null && readyAt !== null, config.restartTimeoutSeconds * 1000))) {
    throw new Error("the orchestrator did not restart the server");
  }
  const everyRoom = users.length * users[0].rooms.length;
  const back = await until(() => rejoinsDone >= everyRoom, config.rejoinTimeoutSeconds * 1000);
  const allBackAt = back ? lastRejoinAt : null;
  await sleep(config.afterSeconds * 1000);
  generating = false;
  clearInterval(generator);
  const drained = await until(
    () => users.every((user) => user.outbox.length === 0 && user.unconfirmed.size === 0),
    config.drainSeconds * 1000,
  );
  await sleep(1000); // broadcasts already on their way
  lines.close();

  const gapEnd = allBackAt ?? now();
  let lost = 0;
  let duplicated = 0;
  let gapMessages = 0;
  let gapLost = 0;
  let gapDuplicated = 0;
  const duplicates = [];
  for (const [key, { at }] of generated) {
    const count = received.get(key) ?? 0;
    const inGap = at >= stopAt && at <= gapEnd;
    if (inGap) gapMessages += 1;
    if (count === 0) {
      lost += 1;
      if (inGap) gapLost += 1;
    } else if (count > 1) {
      duplicated += 1;
      if (duplicates.length < 10) duplicates.push({ key, generatedAt: at - stopAt, arrivals: arrivals.get(key) });
      if (inGap) gapDuplicated += 1;
    }
  }
  if (busySince !== null) busyMs += now() - busySince;
  emit({
    type: "reconnect",
    sockets: users.length,
    rooms: byRoom.size,
    rejoins: rejoinsDone,
    everyRoom,
    allBack: back,
    stopToReadyMs: readyAt - stopAt,
    stopToAllBackMs: allBackAt === null ? null : allBackAt - stopAt,
    readyToAllBackMs: allBackAt === null ? null : allBackAt - readyAt,
    rejoinBusySeconds: busyMs / 1000,
    rejoinsPerBusySecond: busyMs > 0 ? rejoinsDone / (busyMs / 1000) : null,
    rejoinSpanSeconds: firstRejoinAt && lastRejoinAt ? (lastRejoinAt - firstRejoinAt) / 1000 : null,
    socketBackP50Ms: percentile(socketBackMs, 50),
    socketBackP99Ms: percentile(socketBackMs, 99),
    generated: generated.size,
    lost,
    duplicated,
    gapMessages,
    gapLost,
    gapDuplicated,
    drained,
    errors,
    errorCodes,
    connectErrors,
    unconfirmed: users.reduce((sum, user) => sum + user.unconfirmed.size + user.outbox.length, 0),
    duplicates,
  });
  for (const user of users) {
    user.socket.io.reconnection(false);
    user.socket.close();
  }
}

setTimeout(() => {
  console.error("reconnect: time limit reached");
  process.exit(3);
}, config.timeLimitSeconds * 1000).unref();
main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(`reconnect failed: ${err.message}`);
    process.exit(1);
  });
