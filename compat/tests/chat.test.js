// The chat flows of the hub guide, over each transport and each URL form.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import {
  COMBINATIONS,
  claimScenario,
  closeAllSockets,
  connect,
  fixture,
  join,
  sendWithAck,
  textMessage,
} from "../support/harness.js";

afterEach(closeAllSockets);

const HISTORY_FIELDS = [
  "id",
  "roomId",
  "senderId",
  "senderName",
  "senderAvatar",
  "messageType",
  "content",
  "timestamp",
  "status",
];

function assertSenderIs(sender, user) {
  assert.deepEqual(
    { id: sender.id, fullname: sender.fullname, avatar: sender.avatar },
    { id: user.id, fullname: user.fullname, avatar: user.avatar },
  );
}

for (const { transport, form } of COMBINATIONS) {
  const via = { transport, form };

  describe(`chat over ${transport} with the ${form} URL`, () => {
    it("join answers hub:joined (hubRole, userInfo) and then hub:history, newest first", async () => {
      const { student, tutor, rooms } = claimScenario();
      const room = rooms.studentTutor;
      const writer = await connect(student, via);
      await join(writer, room);
      for (const body of ["first", "second", "third"]) {
        const ack = await sendWithAck(writer, textMessage(room, body));
        assert.equal(ack.success, true, JSON.stringify(ack));
      }

      const reader = await connect(tutor, via);
      const { joined, history } = await join(reader, room);

      assert.equal(joined.roomId, room);
      assert.equal(joined.hubRole, "member");
      assert.deepEqual(
        { fullname: joined.userInfo.fullname, avatar: joined.userInfo.avatar },
        { fullname: tutor.fullname, avatar: tutor.avatar },
      );
      const names = reader.recorder.names();
      assert.ok(
        names.indexOf("hub:joined") < names.indexOf("hub:history"),
        `hub:history must follow hub:joined, got ${JSON.stringify(names)}`,
      );

      assert.equal(history.roomId, room);
      assert.deepEqual(
        history.messages.map((m) => m.content.body),
        ["third", "second", "first"],
      );
      for (const message of history.messages) {
        for (const field of HISTORY_FIELDS) {
          assert.ok(field in message, `history message lacks ${field}: ${JSON.stringify(message)}`);
        }
        assert.equal(message.roomId, room);
        assert.equal(message.senderId, student.id);
        assert.equal(message.senderName, student.fullname);
        assert.equal(message.senderAvatar, student.avatar);
        assert.equal(message.messageType, "text");
      }
      const times = history.messages.map((m) => Date.parse(m.timestamp));
      assert.ok(times.every((t) => !Number.isNaN(t)), "timestamps must be ISO dates");
      assert.ok(
        times.every((t, i) => i === 0 || times[i - 1] >= t),
        "history must be newest first",
      );
    });

    it("send reaches both participants with the sender, and acks {success, message}", async () => {
      const { student, tutor, rooms } = claimScenario();
      const room = rooms.studentTutor;
      const studentSocket = await connect(student, via);
      const tutorSocket = await connect(tutor, via);
      await join(studentSocket, room);
      await join(tutorSocket, room);

      const ack = await sendWithAck(studentSocket, textMessage(room, "Hello tutor"));
      assert.equal(ack.success, true, JSON.stringify(ack));
      assert.equal(ack.message.roomId, room);
      assert.equal(ack.message.messageType, "text");
      assert.deepEqual(ack.message.content, { body: "Hello tutor" });

      for (const socket of [studentSocket, tutorSocket]) {
        const arrived = await socket.recorder.next(
          "hub:messageArrived",
          (p) => p?.message?.id === ack.message.id,
        );
        assert.equal(arrived.roomId, room);
        assertSenderIs(arrived.sender, student);
        assert.deepEqual(arrived.message.content, { body: "Hello tutor" });
        assert.equal(arrived.message.senderName, student.fullname);
        assert.equal(arrived.message.senderAvatar, student.avatar);
        assert.ok(!Number.isNaN(Date.parse(arrived.message.timestamp)));
      }
    });

    it("typing and stopTyping reach the other participant only", async () => {
      const { student, tutor, rooms } = claimScenario();
      const room = rooms.studentTutor;
      const studentSocket = await connect(student, via);
      const tutorSocket = await connect(tutor, via);
      await join(studentSocket, room);
      await join(tutorSocket, room);

      studentSocket.emit("hub:event", { roomId: room, event: "typing" });
      const typing = await tutorSocket.recorder.next("hub:typing");
      assert.deepEqual({ roomId: typing.roomId, userId: typing.userId }, { roomId: room, userId: student.id });

      // The tutor's reply is a barrier: the server handled the student's typing before it, so an
      // echo to the student would already have arrived.
      tutorSocket.emit("hub:event", { roomId: room, event: "stopTyping" });
      const stop = await studentSocket.recorder.next("hub:stopTyping");
      assert.deepEqual({ roomId: stop.roomId, userId: stop.userId }, { roomId: room, userId: tutor.id });
      assert.deepEqual(studentSocket.recorder.all("hub:typing"), [], "typing was echoed to its sender");

      studentSocket.emit("hub:event", { roomId: room, event: "stopTyping" });
      const studentStop = await tutorSocket.recorder.next("hub:stopTyping");
      assert.equal(studentStop.userId, student.id);
      assert.deepEqual(
        tutorSocket.recorder.all("hub:stopTyping", (p) => p.userId === tutor.id),
        [],
        "stopTyping was echoed to its sender",
      );
    });

    it("a read receipt is relayed as hub:messageRead {roomId, userId, lastReadTimestamp}", async () => {
      const { student, tutor, rooms } = claimScenario();
      const room = rooms.studentTutor;
      const studentSocket = await connect(student, via);
      const tutorSocket = await connect(tutor, via);
      await join(studentSocket, room);
      await join(tutorSocket, room);
      const sent = await sendWithAck(tutorSocket, textMessage(room, "Did you read this?"));
      assert.equal(sent.success, true, JSON.stringify(sent));

      const lastReadTimestamp = new Date().toISOString();
      studentSocket.emit("hub:event", { roomId: room, event: "messageRead", data: { lastReadTimestamp } });
      const receipt = await tutorSocket.recorder.next("hub:messageRead");
      assert.equal(receipt.roomId, room);
      assert.equal(receipt.userId, student.id);
      assert.equal(receipt.lastReadTimestamp, lastReadTimestamp);
    });

    it("presence: joined/left on join, leave and disconnect; online/offline for the room", async () => {
      const { student, tutor, rooms } = claimScenario();
      const room = rooms.studentTutor;
      const tutorSocket = await connect(tutor, via);
      await join(tutorSocket, room);
      const seen = tutorSocket.recorder;

      const studentSocket = await connect(student, via);
      await join(studentSocket, room, { meta: { device: "compat" } });
      const joinedPresence = await seen.next("hub:presence", (p) => p?.user?.id === student.id);
      assert.equal(joinedPresence.event, "joined");
      assert.equal(joinedPresence.roomId, room);
      assert.deepEqual(
        {
          id: joinedPresence.user.id,
          fullname: joinedPresence.user.fullname,
          avatar: joinedPresence.user.avatar,
          hubRole: joinedPresence.user.hubRole,
        },
        { id: student.id, fullname: student.fullname, avatar: student.avatar, hubRole: "member" },
      );
      const online = await seen.next("hub:online", (p) => p?.userId === student.id);
      assert.equal(online.roomId, room);

      studentSocket.emit("hub:leave", { roomId: room });
      const leftPresence = await seen.next("hub:presence", (p) => p?.user?.id === student.id);
      assert.equal(leftPresence.event, "left");
      assert.equal(leftPresence.roomId, room);

      await join(studentSocket, room);
      const rejoined = await seen.next("hub:presence", (p) => p?.user?.id === student.id);
      assert.equal(rejoined.event, "joined");

      studentSocket.disconnect();
      const gone = await seen.next("hub:presence", (p) => p?.user?.id === student.id);
      assert.equal(gone.event, "left");
      const offline = await seen.next("hub:offline", (p) => p?.userId === student.id);
      assert.equal(offline.roomId, room);
    });
  });
}

describe("mixed connections in one room", () => {
  it("a message reaches participants connected through different URL forms and transports", async () => {
    const { student, tutor, rooms } = claimScenario();
    const room = rooms.studentTutor;
    const studentSocket = await connect(student, { form: "guide", transport: "websocket" });
    const tutorSocket = await connect(tutor, { form: "plain", transport: "polling" });
    await join(studentSocket, room);
    await join(tutorSocket, room);

    const ack = await sendWithAck(tutorSocket, textMessage(room, "across forms"));
    assert.equal(ack.success, true, JSON.stringify(ack));
    const arrived = await studentSocket.recorder.next(
      "hub:messageArrived",
      (p) => p?.message?.id === ack.message.id,
    );
    assertSenderIs(arrived.sender, tutor);
  });

  it("a message sent with POST /chat/{roomId}/messages is pushed to the room's sockets", async () => {
    const { student, tutor, rooms } = claimScenario();
    const room = rooms.studentTutor;
    const studentSocket = await connect(student, { form: "guide", transport: "websocket" });
    const tutorSocket = await connect(tutor, { form: "plain", transport: "websocket" });
    await join(studentSocket, room);
    await join(tutorSocket, room);

    const { baseUrl } = fixture();
    const response = await fetch(`${baseUrl}/messaging-api/chat/${room}/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${student.token}` },
      body: JSON.stringify({ data: { body: "Hello from REST" }, replyTo: null }),
    });
    const body = await response.json();
    assert.ok(response.ok, `POST answered ${response.status}: ${JSON.stringify(body)}`);
    assert.equal(body.success, true);

    for (const socket of [studentSocket, tutorSocket]) {
      const arrived = await socket.recorder.next(
        "hub:messageArrived",
        (p) => p?.message?.content?.body === "Hello from REST",
      );
      assert.equal(arrived.roomId, room);
      assertSenderIs(arrived.sender, student);
    }
  });
});
