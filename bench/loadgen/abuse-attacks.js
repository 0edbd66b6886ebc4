// The five attacks of the abuse scenario. Each takes its part of the configuration and the time
// at which it must stop, closes everything it opened, and returns what it did and what the
// service answered.
import {
  budget,
  closeAll,
  config,
  connect,
  join,
  now,
  pooled,
  sleep,
  summary,
  tally,
} from "./abuse-lib.js";

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

export const ATTACKS = { slowReader, namespaceSpray, joinFlood, eventFlood, heavySearch };
