// The ChatHub class of the hub guide ("Example: Full Chat Integration"), copied unchanged,
// flat indentation included, so the suite drives the service exactly as a frontend built from the
// guide would. Only the export at the end is added, so the tests can import it.
import { io } from "socket.io-client";
class ChatHub {
constructor(baseUrl, token) {
this.socket = io(`${baseUrl}/messaging-api/hub/chat`, {
path: "/messaging-api/socket.io/",
auth: { token },
transports: ["websocket", "polling"]
});
this.rooms = new Map();
this._setupListeners();
}
_setupListeners() {
this.socket.on("hub:joined", ({ roomId, hubRole, userInfo }) => {
this.rooms.set(roomId, { joined: true, hubRole, userInfo, messages: [], members: new Map() });
});
this.socket.on("hub:history", ({ roomId, messages }) => {
const room = this.rooms.get(roomId);
if (room) room.messages = messages;
// Each message has senderName and senderAvatar for display
});
this.socket.on("hub:presence", ({ event, roomId, user }) => {
const room = this.rooms.get(roomId);
if (!room) return;
if (event === "joined") {
room.members.set(user.id, { fullname: user.fullname, avatar: user.avatar, hubRole: user.hubRole });
} else if (event === "left") {
room.members.delete(user.id);
}
});
this.socket.on("hub:messageArrived", ({ roomId, sender, message }) => {
// sender = { id, fullname, avatar }
const room = this.rooms.get(roomId);
if (room) room.messages.push(message);
this.onNewMessage?.(roomId, sender, message);
});
this.socket.on("hub:error", ({ error }) => {
console.error("[ChatHub]", error);
});
this.socket.on("hub:typing", ({ roomId, userId }) => {
this.onTyping?.(roomId, userId, true);
});
this.socket.on("hub:stopTyping", ({ roomId, userId }) => {
this.onTyping?.(roomId, userId, false);
});
this.socket.on("hub:online", ({ roomId, userId }) => {
this.onPresence?.(userId, "online");
});
this.socket.on("hub:offline", ({ roomId, userId }) => {
this.onPresence?.(userId, "offline");
});
}
joinRoom(roomId) {
this.socket.emit("hub:join", { roomId });
}
leaveRoom(roomId) {
this.socket.emit("hub:leave", { roomId });
this.rooms.delete(roomId);
}
sendMessage(roomId, messageType, content, options = {}) {
this.socket.emit("hub:send", {
roomId,
messageType,
content,
...options
});
}
sendTyping(roomId) {
this.socket.emit("hub:event", { roomId, event: "typing" });
}
sendStopTyping(roomId) {
this.socket.emit("hub:event", { roomId, event: "stopTyping" });
}
disconnect() {
this.socket.disconnect();
}
}

export { ChatHub };
