// The guide's own ChatHub example class, used as-is against the service.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { ChatHub } from "../support/chathub.js";
import { claimScenario, closeAllSockets, connected, fixture, track, until } from "../support/harness.js";

afterEach(closeAllSockets);

/** A ChatHub whose callbacks are recorded, as a frontend would wire them. */
async function openHub(user, baseUrl = fixture().baseUrl) {
  const hub = new ChatHub(baseUrl, user.token);
  track(hub.socket);
  hub.seen = { messages: [], typing: [], presence: [] };
  hub.onNewMessage = (roomId, sender, message) => hub.seen.messages.push({ roomId, sender, message });
  hub.onTyping = (roomId, userId, isTyping) => hub.seen.typing.push({ roomId, userId, isTyping });
  hub.onPresence = (userId, status) => hub.seen.presence.push({ userId, status });
  await connected(hub.socket);
  return hub;
}

async function joinWith(hub, roomId) {
  hub.joinRoom(roomId);
  await until(() => hub.rooms.get(roomId)?.joined === true, `ChatHub joined ${roomId}`);
  return hub.rooms.get(roomId);
}

describe("the guide's ChatHub class", () => {
  it("reaches the same rooms when its baseUrl already ends in /messaging-api", async () => {
    // The guide's baseUrl includes the prefix, and ChatHub adds it again: the namespace is then
    // /messaging-api/messaging-api/hub/chat, one of the hub's accepted namespaces.
    const { student, tutor, rooms } = claimScenario();
    const room = rooms.studentTutor;
    const tutorHub = await openHub(tutor);
    await joinWith(tutorHub, room);
    const studentHub = await openHub(student, `${fixture().baseUrl}/messaging-api`);
    assert.equal(studentHub.socket.nsp, "/messaging-api/messaging-api/hub/chat");
    await joinWith(studentHub, room);

    studentHub.sendMessage(room, "text", { body: "through the doubled prefix" });

    await until(() => tutorHub.seen.messages.length === 1, "the tutor receives the message");
    assert.deepEqual(tutorHub.seen.messages[0].message.content, { body: "through the doubled prefix" });
  });

  it("connects with the guide's URL, path and transports", async () => {
    const { student } = claimScenario();
    const hub = await openHub(student);
    assert.equal(hub.socket.connected, true);
    assert.equal(hub.socket.io.engine.transport.name, "websocket");
  });

  it("joins, sends, and shows typing and presence of the other participant", async () => {
    const { student, tutor, rooms } = claimScenario();
    const room = rooms.studentTutor;
    const tutorHub = await openHub(tutor);
    const tutorRoom = await joinWith(tutorHub, room);
    assert.equal(tutorRoom.hubRole, "member");
    assert.equal(tutorRoom.userInfo.fullname, tutor.fullname);
    assert.equal(tutorRoom.userInfo.avatar, tutor.avatar);

    const studentHub = await openHub(student);
    await joinWith(studentHub, room);
    await until(() => tutorRoom.members.has(student.id), "the tutor sees the student join");
    assert.deepEqual(tutorRoom.members.get(student.id), {
      fullname: student.fullname,
      avatar: student.avatar,
      hubRole: "member",
    });
    await until(
      () => tutorHub.seen.presence.some((p) => p.userId === student.id && p.status === "online"),
      "the tutor sees the student online",
    );

    studentHub.sendMessage(room, "text", { body: "Hi from ChatHub" });
    await until(() => tutorHub.seen.messages.length === 1, "the tutor receives the message");
    const { roomId, sender, message } = tutorHub.seen.messages[0];
    assert.equal(roomId, room);
    assert.deepEqual(
      { id: sender.id, fullname: sender.fullname, avatar: sender.avatar },
      { id: student.id, fullname: student.fullname, avatar: student.avatar },
    );
    assert.deepEqual(message.content, { body: "Hi from ChatHub" });
    assert.equal(message.senderName, student.fullname);
    assert.deepEqual(
      tutorRoom.messages.map((m) => m.id),
      [message.id],
    );
    await until(
      () => studentHub.rooms.get(room).messages.some((m) => m.id === message.id),
      "the sender's ChatHub receives its own message",
    );

    studentHub.sendTyping(room);
    await until(() => tutorHub.seen.typing.length === 1, "the tutor sees typing");
    assert.deepEqual(tutorHub.seen.typing[0], { roomId: room, userId: student.id, isTyping: true });
    studentHub.sendStopTyping(room);
    await until(() => tutorHub.seen.typing.length === 2, "the tutor sees typing stop");
    assert.deepEqual(tutorHub.seen.typing[1], { roomId: room, userId: student.id, isTyping: false });
    assert.deepEqual(studentHub.seen.typing, [], "typing must not be echoed to its sender");

    studentHub.disconnect();
    await until(() => !tutorRoom.members.has(student.id), "the tutor sees the student leave");
    await until(
      () => tutorHub.seen.presence.some((p) => p.userId === student.id && p.status === "offline"),
      "the tutor sees the student offline",
    );
  });

  it("a ChatHub that joins later gets the room's history, newest first", async () => {
    const { student, tutor, rooms } = claimScenario();
    const room = rooms.studentTutor;
    const studentHub = await openHub(student);
    const studentRoom = await joinWith(studentHub, room);
    studentHub.sendMessage(room, "text", { body: "one" });
    await until(() => studentRoom.messages.length === 1, "the first message is stored and echoed");
    studentHub.sendMessage(room, "text", { body: "two" });
    await until(() => studentRoom.messages.length === 2, "the second message is stored and echoed");

    const tutorHub = await openHub(tutor);
    const tutorRoom = await joinWith(tutorHub, room);
    await until(() => tutorRoom.messages.length === 2, "the tutor's ChatHub receives the history");
    assert.deepEqual(
      tutorRoom.messages.map((m) => m.content.body),
      ["two", "one"],
    );
    for (const m of tutorRoom.messages) {
      assert.equal(m.senderName, student.fullname);
      assert.equal(m.senderAvatar, student.avatar);
    }
  });

  it("leaveRoom forgets the room and the other participant sees the member leave", async () => {
    const { student, tutor, rooms } = claimScenario();
    const room = rooms.studentTutor;
    const tutorHub = await openHub(tutor);
    const tutorRoom = await joinWith(tutorHub, room);
    const studentHub = await openHub(student);
    await joinWith(studentHub, room);
    await until(() => tutorRoom.members.has(student.id), "the tutor sees the student join");

    studentHub.leaveRoom(room);
    assert.equal(studentHub.rooms.has(room), false);
    await until(() => !tutorRoom.members.has(student.id), "the tutor sees the student leave");
    assert.equal(studentHub.socket.connected, true, "leaving a room keeps the connection");
  });
});
