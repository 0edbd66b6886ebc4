// Hub roles of the guide: viewers read but cannot send; strangers learn nothing of a room.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import {
  claimScenario,
  closeAllSockets,
  connect,
  join,
  sendWithAck,
  textMessage,
} from "../support/harness.js";

afterEach(closeAllSockets);

describe("hub roles", () => {
  it("a student in an adminStudent room joins as viewer and is refused with SEND_NOT_ALLOWED", async () => {
    const { student, admin, rooms } = claimScenario();
    const room = rooms.adminStudent;
    const studentSocket = await connect(student, { form: "guide", transport: "websocket" });
    const adminSocket = await connect(admin, { form: "guide", transport: "websocket" });
    const { joined } = await join(studentSocket, room);
    assert.equal(joined.hubRole, "viewer");
    await join(adminSocket, room);

    studentSocket.emit("hub:send", textMessage(room, "may I talk?"));
    const error = await studentSocket.recorder.next("hub:error");
    assert.equal(error.roomId, room);
    assert.equal(error.code, "SEND_NOT_ALLOWED");
    assert.equal(typeof error.error, "string");
    assert.notEqual(error.error.trim(), "");

    // The admin's own message is a barrier: had the viewer's send been stored and broadcast, it
    // would have reached both sockets before this one.
    const ack = await sendWithAck(adminSocket, textMessage(room, "Please read the rules"));
    assert.equal(ack.success, true, JSON.stringify(ack));
    const arrived = await studentSocket.recorder.next(
      "hub:messageArrived",
      (p) => p?.message?.id === ack.message.id,
    );
    assert.equal(arrived.sender.id, admin.id);
    await adminSocket.recorder.next("hub:messageArrived", (p) => p?.message?.id === ack.message.id);
    for (const socket of [studentSocket, adminSocket]) {
      assert.deepEqual(
        socket.recorder.all("hub:messageArrived", (p) => p?.sender?.id === student.id),
        [],
        "the viewer's refused message was broadcast",
      );
    }
  });

  it("a viewer's refused send is acked {success: false, error}", async () => {
    const { student, rooms } = claimScenario();
    const room = rooms.adminStudent;
    const socket = await connect(student, { form: "plain", transport: "polling" });
    await join(socket, room);
    const ack = await sendWithAck(socket, textMessage(room, "still no"));
    assert.equal(ack.success, false);
    assert.equal(typeof ack.error, "string");
    assert.notEqual(ack.error.trim(), "");
  });

  it("a tutor in an adminTutor room is a member and can send", async () => {
    const { tutor, rooms } = claimScenario();
    const room = rooms.adminTutor;
    const socket = await connect(tutor, { form: "guide", transport: "websocket" });
    const { joined } = await join(socket, room);
    assert.equal(joined.hubRole, "member");
    const ack = await sendWithAck(socket, textMessage(room, "Question about payouts"));
    assert.equal(ack.success, true, JSON.stringify(ack));
  });

  it("a superAdmin joins any room with the system role", async () => {
    const { superAdmin, rooms } = claimScenario();
    const socket = await connect(superAdmin, { form: "guide", transport: "websocket" });
    const { joined } = await join(socket, rooms.studentTutor);
    assert.equal(joined.hubRole, "system");
  });

  it("a stranger's join is refused with NOT_AUTHORIZED and no room data", async () => {
    const { stranger, student, rooms } = claimScenario();
    const room = rooms.studentTutor;
    const participant = await connect(student, { form: "plain", transport: "websocket" });
    await join(participant, room);
    const ack = await sendWithAck(participant, textMessage(room, "private"));
    assert.equal(ack.success, true, JSON.stringify(ack));

    const socket = await connect(stranger, { form: "plain", transport: "websocket" });
    socket.emit("hub:join", { roomId: room });
    const error = await socket.recorder.next("hub:error");
    assert.equal(error.code, "NOT_AUTHORIZED");
    assert.equal(error.roomId, room);
    for (const event of ["hub:joined", "hub:history", "hub:messageArrived", "hub:presence"]) {
      assert.deepEqual(socket.recorder.all(event), [], `a stranger received ${event}`);
    }
  });
});
