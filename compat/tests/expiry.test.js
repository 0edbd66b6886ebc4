// A token that expires while its socket is open: the service closes the transport, and the
// client's own reconnection asks its auth callback again, as a frontend refreshing its token does.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { io } from "socket.io-client";

import {
  Recorder,
  claimScenario,
  closeAllSockets,
  connected,
  fixture,
  join,
  track,
} from "../support/harness.js";

afterEach(closeAllSockets);

// The seeded token expires a few seconds after seeding; this bounds the wait, it is no expectation.
const EXPIRY_WAIT_MS = 30000;

describe("a token expiring on an open socket", () => {
  it("closes the socket, and reconnecting with a fresh token from the auth callback works", async () => {
    const scenario = claimScenario(); // the first scenario, whose student has the expiring token
    const { expiring } = fixture();
    assert.equal(expiring.userId, scenario.student.id);
    const tokens = [expiring.token, scenario.student.token];
    const authCalls = [];
    const socket = track(
      io(`${fixture().baseUrl}/hub/chat`, {
        transports: ["websocket"],
        reconnectionDelay: 100,
        reconnectionDelayMax: 200,
        auth: (cb) => {
          authCalls.push(Date.now());
          cb({ token: tokens[Math.min(authCalls.length - 1, tokens.length - 1)] });
        },
      }),
    );
    socket.recorder = new Recorder(socket);
    await connected(socket);
    await join(socket, scenario.rooms.studentTutor);

    const reason = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the socket was not closed")), EXPIRY_WAIT_MS);
      socket.once("disconnect", (why) => {
        clearTimeout(timer);
        resolve(why);
      });
    });
    assert.equal(reason, "transport close", "the client must reconnect by itself");

    await connected(socket, EXPIRY_WAIT_MS);
    assert.equal(authCalls.length, 2, "the reconnection asked the auth callback again");
    const { joined } = await join(socket, scenario.rooms.studentTutor);
    assert.equal(joined.hubRole, "member");
  });

  it("refuses the stale token with a readable code", async () => {
    const expired = fixture().tokens.expired;
    const socket = track(
      io(`${fixture().baseUrl}/hub/chat`, { transports: ["websocket"], auth: { token: expired } }),
    );
    const err = await new Promise((resolve) => socket.once("connect_error", resolve));
    assert.equal(err.message, "Invalid token");
    assert.deepEqual(err.data, { code: "TOKEN_EXPIRED" });
  });
});
