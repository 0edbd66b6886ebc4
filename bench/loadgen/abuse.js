// Abuse scenario of the messaging benchmarks: a bystander pair's latency, calm and under attack.
//
//   node abuse.js <config.json>
//
// Two bystander sockets (the two participants of their own room) send hub:send at a modest steady
// rate for the whole run; latency is send -> hub:messageArrived at the other participant. The run
// is a sequence of phases: "calm" (no attack), then one attack per phase. Each phase prints
// {"type": "phaseStart"} and waits for a line on stdin (the orchestrator reads the server's memory
// and metrics meanwhile), runs the attack and the bystander together for a fixed window, stops the
// attack and closes everything it opened, waits (bounded) for the bystander's last messages and
// prints {"type": "phaseEnd", bystander, attack}. Every loop stops at the window's end, every wait
// has a deadline, and the process exits on its own when its phases are done.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

function emit(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();

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

function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// Runs `task(i)` for i in [0, count) with at most `limit` in flight.
async function pooled(count, limit, task) {
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

function tally(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

// Milliseconds left until `stopAt`, within [floor, ceiling]: how long one wait may take.
function budget(stopAt, floor = 500, ceiling = 10000) {
  return Math.max(floor, Math.min(ceiling, stopAt - now() + 2000));
}

function connect(token, namespace = config.namespace, timeoutMs = 30000) {
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

async function join(socket, roomId, timeoutMs = 30000) {
  const ack = await socket.timeout(timeoutMs).emitWithAck("hub:join", { roomId });
  if (!ack?.success) throw new Error(`join refused: ${ack?.code} ${ack?.error}`);
}

function closeAll(sockets) {
  for (const socket of sockets) if (socket) socket.close();
}

function waitForLine() {
  const lines = createInterface({ input: process.stdin });
  return withDeadline(
    new Promise((resolve) => lines.once("line", () => resolve())),
    600000,
    "orchestrator",
  ).finally(() => lines.close());
}

// --- the bystander pair ---------------------------------------------------------------------------

class Bystander {
  constructor(sockets, roomId) {
    this.sockets = sockets;
    this.roomId = roomId;
    this.phase = null;
    sockets.forEach((socket, index) => {
      socket.on("hub:error", () => {
        if (this.phase) this.phase.errors += 1;
      });
      socket.on("disconnect", () => {
        if (this.phase) this.phase.disconnects += 1;
      });
      socket.on("hub:messageArrived", ({ message }) => {
        const at = now();
        const parts = String(message?.content?.body ?? "").split(" ");
        const phase = this.phase;
        if (parts[0] !== "x" || phase === null || Number(parts[1]) !== phase.index) return;
        if (Number(parts[3]) === index) return; // the sender's own copy
        phase.arrived += 1;
        phase.latencies.push(at - Number(parts[2]));
      });
    });
  }

  // Open loop at a steady rate, alternating senders, until `stopAt`.
  async send(index, rate, stopAt) {
    this.phase = { index, sent: 0, arrived: 0, latencies: [], errors: 0, disconnects: 0 };
    const phase = this.phase;
    const started = now();
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const t = now();
        const due = Math.floor(((Math.min(t, stopAt) - started) / 1000) * rate);
        while (phase.sent < due) {
          const sender = phase.sent % 2;
          this.sockets[sender].emit("hub:send", {
            roomId: this.roomId,
            messageType: "text",
            content: { body: `x ${index} ${now().toFixed(3)} ${sender}` },
          });
          phase.sent += 1;
        }
        if (t >= stopAt) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
  }

  async drain(seconds) {
    const until = now() + seconds * 1000;
    while (this.phase.arrived < this.phase.sent && now() < until) await sleep(20);
    const phase = this.phase;
    this.phase = null;
    return {
      sent: phase.sent,
      arrived: phase.arrived,
      lost: phase.sent - phase.arrived,
      errors: phase.errors,
      disconnects: phase.disconnects,
      latency: summary(phase.latencies),
    };
  }
}

// --- the attacks ------------------------------------------------------------------------------------

// `inFlight` concurrent loops of emitWithAck(event, payload()) on one socket until `stopAt`.
async function flood(socket, event, payload, inFlight, stopAt, stats) {
  async function loop() {
    while (now() < stopAt && stats.sent < config.maxEventsPerAttack) {
      if (!socket.connected) {
        stats.disconnected = true;
        return;
      }
      stats.sent += 1;
      try {
        const ack = await socket.timeout(budget(stopAt)).emitWithAck(event, payload());
        if (ack?.success) stats.acked += 1;
        else tally(stats.refused, ack?.code ?? "no answer");
      } catch {
        stats.timedOut += 1;
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, loop));
}

function floodStats() {
  return { sent: 0, acked: 0, refused: {}, timedOut: 0, disconnected: false };
}

// A socket that stops reading while another member of its room relays large hub:events into it.
async function slowReader(cfg, stopAt) {
  const opened = [];
  try {
    const reader = await connect(cfg.readerToken);
    opened.push(reader);
    await join(reader, cfg.roomId);
    const sender = await connect(cfg.senderToken);
    opened.push(sender);
    await join(sender, cfg.roomId);
    let readerClosed = null;
    reader.on("disconnect", (reason) => {
      readerClosed = reason;
    });
    // Stop reading: the websocket's TCP socket is paused, so the server's writes back up.
    const ws = reader.io.engine.transport.ws;
    ws.pause();
    const blob = "s".repeat(cfg.eventBytes);
    const stats = floodStats();
    await flood(
      sender,
      "hub:event",
      () => ({ roomId: cfg.roomId, event: "bigEvent", data: { blob } }),
      cfg.inFlight,
      stopAt,
      stats,
    );
    // Read again: a reader the server dropped sees the close once the bytes before it are read.
    ws.resume();
    const until = now() + cfg.resumeSeconds * 1000;
    while (readerClosed === null && now() < until) await sleep(50);
    return { events: stats, eventBytes: cfg.eventBytes, readerDisconnected: readerClosed !== null };
  } finally {
    closeAll(opened);
  }
}

// Sockets of one user on made-up namespaces, opened at `concurrency` at a time and held idle.
async function namespaceSpray(cfg, stopAt) {
  const sockets = [];
  const refused = {};
  let connectFailures = 0;
  const started = now();
  try {
    await pooled(cfg.sockets, cfg.concurrency, async (i) => {
      if (now() >= stopAt) return;
      try {
        sockets.push(await connect(cfg.token, `/ns${i}${config.namespace}`, budget(stopAt)));
      } catch (err) {
        // One entry per kind of refusal, not per namespace named in it.
        if (err.message.startsWith("connect_error: ")) tally(refused, err.message.slice(15).replace(/\d+/g, "N"));
        else connectFailures += 1;
      }
    });
    const sprayed = (now() - started) / 1000;
    const accepted = sockets.length;
    while (now() < stopAt) await sleep(100);
    const stillConnected = sockets.filter((s) => s.connected).length;
    return { attempted: cfg.sockets, accepted, stillConnected, refused, connectFailures, spraySeconds: sprayed };
  } finally {
    closeAll(sockets);
  }
}

// Sockets of one user, each joining and leaving a room of its own as fast as it can.
async function joinFlood(cfg, stopAt) {
  const sockets = new Array(cfg.roomIds.length).fill(null);
  const refusedConnects = {};
  const stats = { joined: 0, refused: {}, left: 0, timedOut: 0, disconnected: 0 };
  try {
    await pooled(cfg.roomIds.length, cfg.roomIds.length, async (i) => {
      try {
        sockets[i] = await connect(cfg.token, config.namespace, budget(stopAt));
      } catch (err) {
        tally(refusedConnects, err.message.replace(/\d+/g, "N"));
      }
    });
    await Promise.all(
      sockets.map(async (socket, i) => {
        if (socket === null) return;
        const roomId = cfg.roomIds[i];
        while (now() < stopAt && stats.joined + stats.timedOut < config.maxEventsPerAttack) {
          if (!socket.connected) {
            stats.disconnected += 1;
            return;
          }
          try {
            const ack = await socket.timeout(budget(stopAt)).emitWithAck("hub:join", { roomId });
            if (!ack?.success) {
              tally(stats.refused, ack?.code ?? "no answer");
              continue;
            }
            stats.joined += 1;
            const left = await socket.timeout(budget(stopAt)).emitWithAck("hub:leave", { roomId });
            if (left?.success) stats.left += 1;
            else tally(stats.refused, left?.code ?? "no answer");
          } catch {
            stats.timedOut += 1;
          }
        }
      }),
    );
    const connected = sockets.filter((s) => s !== null).length;
    return { sockets: cfg.roomIds.length, connected, refusedConnects, ...stats };
  } finally {
    closeAll(sockets);
  }
}

// One user floods its room with custom events: small "typing" ones on one socket, large ones on
// another; the other participant reads normally and counts what reaches it.
async function eventFlood(cfg, stopAt) {
  const opened = [];
  try {
    const peer = await connect(cfg.peerToken);
    opened.push(peer);
    await join(peer, cfg.roomId);
    const received = { typing: 0, bigEvent: 0 };
    peer.on("hub:typing", () => {
      received.typing += 1;
    });
    peer.on("hub:bigEvent", () => {
      received.bigEvent += 1;
    });
    const typer = await connect(cfg.token);
    opened.push(typer);
    await join(typer, cfg.roomId);
    const bulk = await connect(cfg.token);
    opened.push(bulk);
    await join(bulk, cfg.roomId);
    const blob = "e".repeat(cfg.eventBytes);
    const typing = floodStats();
    const big = floodStats();
    const started = now();
    await Promise.all([
      flood(typer, "hub:event", () => ({ roomId: cfg.roomId, event: "typing", data: {} }), cfg.inFlight, stopAt, typing),
      flood(bulk, "hub:event", () => ({ roomId: cfg.roomId, event: "bigEvent", data: { blob } }), cfg.inFlight, stopAt, big),
    ]);
    const seconds = (now() - started) / 1000;
    return {
      typing,
      big,
      eventBytes: cfg.eventBytes,
      peerReceived: received,
      peerTypingPerSecond: received.typing / seconds,
      peerBytesPerSecond: (received.bigEvent * cfg.eventBytes) / seconds,
    };
  } finally {
    closeAll(opened);
  }
}

function randomWord(length) {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  let word = "";
  for (let i = 0; i < length; i++) word += letters[Math.floor(Math.random() * 26)];
  return word;
}

function searchUrl(cfg, values, length) {
  const filters = Array.from({ length: values }, () => `content=${randomWord(length)}`);
  return `${cfg.url}?pageRowCount=25&${filters.join("&")}`;
}

// Concurrent message searches by one student with many long `content` values (nothing matches:
// every value is compared with every message the student may read). The largest shape the server
// accepts is found first; a refusal for load (429/503) is retried after its Retry-After (at most
// 1 s, 100 ms without one): the attack is expensive searches, not a request flood.
async function heavySearch(cfg, stopAt) {
  const headers = { authorization: `Bearer ${cfg.token}` };
  const controller = new AbortController();
  const stopper = setTimeout(() => controller.abort(), Math.max(0, stopAt - now()));
  const statuses = {};
  const durations = [];
  let shape = null;
  let aborted = 0;
  try {
    for (const [values, length] of cfg.shapes) {
      if (now() >= stopAt) break;
      try {
        const response = await fetch(searchUrl(cfg, values, length), { headers, signal: controller.signal });
        await response.arrayBuffer();
        if (response.status === 400 || response.status === 414 || response.status === 431) {
          tally(statuses, `${response.status} (shape ${values}x${length} refused)`);
          continue;
        }
        shape = { values, length, status: response.status };
        break;
      } catch {
        aborted += 1;
        break;
      }
    }
    if (shape === null) return { shape, statuses, aborted, searches: summary([]) };
    const url = searchUrl(cfg, shape.values, shape.length);
    let attempts = 0;
    async function worker() {
      while (now() < stopAt && attempts < config.maxEventsPerAttack) {
        attempts += 1;
        const started = now();
        try {
          const response = await fetch(url, { headers, signal: controller.signal });
          await response.arrayBuffer();
          tally(statuses, String(response.status));
          if (response.status === 200) durations.push(now() - started);
          if (response.status === 429 || response.status === 503) {
            const retryAfter = Number(response.headers.get("retry-after"));
            await sleep(retryAfter > 0 ? Math.min(1000, retryAfter * 1000) : 100);
          }
        } catch {
          aborted += 1;
        }
      }
    }
    await Promise.all(Array.from({ length: cfg.concurrency }, worker));
    return { shape, concurrency: cfg.concurrency, statuses, aborted, searches: summary(durations) };
  } finally {
    clearTimeout(stopper);
    controller.abort();
  }
}

const ATTACKS = { slowReader, namespaceSpray, joinFlood, eventFlood, heavySearch };

// --- the run --------------------------------------------------------------------------------------

async function main() {
  const b = config.bystander;
  const sockets = [await connect(b.tokens[0]), await connect(b.tokens[1])];
  for (const socket of sockets) await join(socket, b.roomId);
  const bystander = new Bystander(sockets, b.roomId);
  emit({ type: "ready" });

  const phases = [{ name: "calm", seconds: config.calmSeconds }];
  for (const name of config.attacks) phases.push({ name, seconds: config.attackSeconds });
  for (const [index, phase] of phases.entries()) {
    emit({ type: "phaseStart", name: phase.name });
    await waitForLine();
    const stopAt = now() + phase.seconds * 1000;
    const attack = ATTACKS[phase.name];
    const attackRun = attack
      ? attack(config[phase.name], stopAt).catch((err) => ({ failed: err.message }))
      : Promise.resolve(null);
    await bystander.send(index, b.rate, stopAt);
    // Every attack ends at stopAt; its last waits are bounded by `budget` (at most ~12 s more).
    const attackResult = await withDeadline(attackRun, 60000, `attack ${phase.name}`).catch((err) => ({
      failed: err.message,
    }));
    const result = await bystander.drain(config.drainSeconds);
    emit({ type: "phaseEnd", name: phase.name, seconds: phase.seconds, bystander: result, attack: attackResult });
    await sleep(config.cooldownSeconds * 1000);
  }
  closeAll(sockets);
  emit({ type: "done" });
}

// A hard ceiling on the whole run, whatever happens.
setTimeout(() => {
  console.error("abuse load generator: time limit reached");
  process.exit(3);
}, (config.timeLimitSeconds ?? 900) * 1000).unref();
main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(`abuse load generator failed: ${err.message}`);
    process.exit(1);
  });
