// Shared helpers of the compatibility suite: the fixture pytest seeded, sockets opened exactly as
// the hub guide shows, and an event recorder that lets a test wait for an event without sleeping.

import { io } from "socket.io-client";

export const TRANSPORTS = ["websocket", "polling"];

// "guide": io(`${baseUrl}/messaging-api/hub/chat`, {path: "/messaging-api/socket.io/"}) as the
// guide's ChatHub class does; "plain": io(`${baseUrl}/hub/chat`) for a local server.
export const URL_FORMS = ["guide", "plain"];

export const COMBINATIONS = TRANSPORTS.flatMap((transport) =>
  URL_FORMS.map((form) => ({ transport, form })),
);

const DEFAULT_TIMEOUT_MS = 5000;

let cachedFixture;

/** What tests/compat/test_js_client.py seeded: base URL, tokens, users and rooms. */
export function fixture() {
  if (cachedFixture) return cachedFixture;
  const raw = process.env.COMPAT_FIXTURE;
  if (!raw) {
    throw new Error(
      "COMPAT_FIXTURE is not set: run this suite through pytest (pytest tests/compat), " +
        "which starts the service and seeds users and rooms",
    );
  }
  cachedFixture = JSON.parse(raw);
  return cachedFixture;
}

let claimed = 0;

/**
 * A fresh scenario for one test: its own student, tutor, admin, superAdmin and stranger, and the
 * three conversations between them (studentTutor, adminStudent, adminTutor), all active. Each
 * test takes its own, so presence and rate limits of one test never leak into another.
 */
export function claimScenario() {
  const { scenarios } = fixture();
  if (claimed >= scenarios.length) {
    throw new Error(
      `all ${scenarios.length} seeded scenarios are taken: raise SCENARIOS_PER_FILE in ` +
        "tests/compat/test_js_client.py",
    );
  }
  return scenarios[claimed++];
}

const openSockets = new Set();

/** A socket opened the way the hub guide shows, with one transport only. */
export function openSocket({ form, transport, token, hub = "chat" }) {
  const { baseUrl } = fixture();
  const options = { transports: [transport] };
  if (token !== undefined) options.auth = { token };
  let socket;
  if (form === "guide") {
    socket = io(`${baseUrl}/messaging-api/hub/${hub}`, {
      path: "/messaging-api/socket.io/",
      ...options,
    });
  } else if (form === "plain") {
    socket = io(`${baseUrl}/hub/${hub}`, options);
  } else {
    throw new Error(`unknown URL form ${form}`);
  }
  openSockets.add(socket);
  socket.recorder = new Recorder(socket);
  return socket;
}

/** Disconnect every socket the test opened (call from afterEach). */
export function closeAllSockets() {
  for (const socket of openSockets) socket.disconnect();
  openSockets.clear();
}

export function track(socket) {
  openSockets.add(socket);
  return socket;
}

/** Resolves once connected; rejects with the connect_error (its message is what tests check). */
export function connected(socket, timeoutMs = DEFAULT_TIMEOUT_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`socket did not connect within ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** The connect_error a refused handshake produces (fails if the socket connects instead). */
export function connectError(socket, timeoutMs = DEFAULT_TIMEOUT_MS) {
  return connected(socket, timeoutMs).then(
    () => {
      throw new Error("the handshake was accepted, expected a connect_error");
    },
    (err) => err,
  );
}

/** Opens, connects and returns a socket for one user. */
export async function connect(user, { form = "plain", transport = "websocket" } = {}) {
  const socket = openSocket({ form, transport, token: user.token });
  await connected(socket);
  return socket;
}

/**
 * Records every event a socket receives, in arrival order, so a test can wait for an event that
 * may already have arrived, and can later check that some event never did.
 */
export class Recorder {
  constructor(socket) {
    this.events = [];
    this.consumed = new Set();
    this.waiters = new Set();
    socket.onAny((event, ...args) => {
      this.events.push({ event, payload: args[0] });
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  /** Names of the events received so far, in order. */
  names() {
    return this.events.map((e) => e.event);
  }

  /** Every payload received for `event` that matches `predicate`. */
  all(event, predicate = () => true) {
    return this.events.filter((e) => e.event === event && predicate(e.payload)).map((e) => e.payload);
  }

  /** The first not yet consumed `event` matching `predicate`, waiting for it if needed. */
  next(event, predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const find = () => {
      for (let i = 0; i < this.events.length; i += 1) {
        const entry = this.events[i];
        if (!this.consumed.has(i) && entry.event === event && predicate(entry.payload)) {
          this.consumed.add(i);
          return { found: true, payload: entry.payload };
        }
      }
      return { found: false };
    };
    const now = find();
    if (now.found) return Promise.resolve(now.payload);
    return new Promise((resolve, reject) => {
      const waiter = () => {
        const later = find();
        if (later.found) {
          this.waiters.delete(waiter);
          clearTimeout(timer);
          resolve(later.payload);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `no ${event} within ${timeoutMs} ms; received so far: ${JSON.stringify(this.names())}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

/** Joins a room and returns {joined, history}, the two events the guide sends in that order. */
export async function join(socket, roomId, extra = {}) {
  const rec = socket.recorder;
  socket.emit("hub:join", { roomId, ...extra });
  const joined = await rec.next("hub:joined", (p) => p?.roomId === roomId);
  const history = await rec.next("hub:history", (p) => p?.roomId === roomId);
  return { joined, history };
}

/** hub:send with an ack callback (DECISIONS §6); resolves with the ack. */
export function sendWithAck(socket, payload, timeoutMs = DEFAULT_TIMEOUT_MS) {
  return socket.timeout(timeoutMs).emitWithAck("hub:send", payload);
}

/** Polls a condition on state a test cannot subscribe to (the guide's ChatHub class). */
export async function until(condition, description, timeoutMs = DEFAULT_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A text message payload with a body unique to the test. */
export function textMessage(roomId, body) {
  return { roomId, messageType: "text", content: { body } };
}
