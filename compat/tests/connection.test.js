// Handshake: both transports, both URL forms, and the guide's authentication errors.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { io } from "socket.io-client";

import {
  COMBINATIONS,
  TRANSPORTS,
  URL_FORMS,
  claimScenario,
  closeAllSockets,
  connectError,
  connected,
  fixture,
  openSocket,
  track,
} from "../support/harness.js";

afterEach(closeAllSockets);

describe("connecting to the chat hub", () => {
  for (const { transport, form } of COMBINATIONS) {
    it(`connects over ${transport} only with the ${form} URL`, async () => {
      const { student } = claimScenario();
      const socket = openSocket({ form, transport, token: student.token });
      await connected(socket);
      assert.equal(socket.connected, true);
      assert.equal(socket.io.engine.transport.name, transport);
    });

    it(`refuses a handshake without a token over ${transport} (${form} URL)`, async () => {
      const socket = openSocket({ form, transport });
      const err = await connectError(socket);
      assert.equal(err.message, "Authentication required");
      assert.equal(socket.connected, false);
    });

    it(`refuses a bad token over ${transport} (${form} URL)`, async () => {
      const socket = openSocket({ form, transport, token: "not-a-jwt" });
      const err = await connectError(socket);
      assert.equal(err.message, "Invalid token");
    });
  }

  for (const form of URL_FORMS) {
    it(`refuses a token signed with another key, without an expiry reason (${form} URL)`, async () => {
      const socket = openSocket({ form, transport: "websocket", token: fixture().tokens.forged });
      const err = await connectError(socket);
      assert.equal(err.message, "Invalid token");
      assert.equal(err.data, undefined);
    });

    for (const transport of TRANSPORTS) {
      it(`refuses an expired token and says why in err.data over ${transport} (${form} URL)`, async () => {
        const socket = openSocket({ form, transport, token: fixture().tokens.expired });
        const err = await connectError(socket);
        assert.equal(err.message, "Invalid token");
        assert.deepEqual(err.data, { code: "TOKEN_EXPIRED" });
      });
    }

    it(`refuses a service (M2M) token: the hub is for users (${form} URL)`, async () => {
      const socket = openSocket({ form, transport: "websocket", token: fixture().tokens.service });
      const err = await connectError(socket);
      assert.equal(err.message, "Invalid token");
    });

    it(`refuses an unknown hub namespace with a readable message (${form} URL)`, async () => {
      const { student } = claimScenario();
      const socket = openSocket({ form, transport: "websocket", token: student.token, hub: "lobby" });
      const err = await connectError(socket);
      assert.equal(typeof err.message, "string");
      assert.notEqual(err.message.trim(), "", "the refusal must say why");
    });
  }

  for (const transport of TRANSPORTS) {
    it(`refuses a made-up prefix before the hub's name with a readable message (${transport})`, async () => {
      const { student } = claimScenario();
      const socket = track(
        io(`${fixture().baseUrl}/ns1/hub/chat`, { transports: [transport], auth: { token: student.token } }),
      );
      const err = await connectError(socket);
      assert.match(err.message, /^Unknown hub: \/ns1\/hub\/chat/);
      assert.equal(socket.connected, false);
    });
  }

  it("accepts a token given as 'Bearer <token>' in auth.token", async () => {
    const { tutor } = claimScenario();
    const socket = openSocket({ form: "guide", transport: "websocket", token: `Bearer ${tutor.token}` });
    await connected(socket);
    assert.equal(socket.connected, true);
  });
});
