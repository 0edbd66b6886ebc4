// A signed-in user's live state: conversations from REST, rooms joined on the hub, and every
// hub event applied to them. The page renders from here (ui.js) and never edits it directly.
import { Api } from "./api.js";
import { previewOf, uuid4 } from "./format.js";
import { connectHub, request } from "./hub.js";

const HISTORY_PAGE = 50;
const TYPING_IDLE_MS = 2500; // stopTyping after this much quiet, as the hub guide advises
const TYPING_SHOWN_MS = 8000; // a typing indicator whose stopTyping got lost fades anyway
const INBOX_REFRESH_MS = 20000;

function newRoom(id) {
  return {
    id,
    messages: [],
    byId: new Map(),
    joined: false,
    joining: false,
    hubRole: null,
    online: new Set(),
    names: new Map(),
    typing: new Map(),
    readBy: new Map(),
    readSent: 0,
    hasOlder: false,
    loadingOlder: false,
    pendingAfter: undefined,
    error: null,
    silenced: null,
    blocked: null,
    closed: false,
  };
}

const stamp = (iso) => {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? 0 : t;
};

export class Session {
  constructor(token, me) {
    this.token = token;
    this.me = me;
    this.api = new Api(token);
    this.conversations = new Map();
    this.rooms = new Map();
    this.current = null;
    this.connection = "connecting";
    this.everConnected = false;
    this.listeners = new Set();
    this.typingSent = new Map();
    this.refreshTimer = null;
    this.onSignedOut = null;
    this.api.onUnauthorized = () =>
      this.expire(
        this.tokenExpired()
          ? "Your session has expired. Sign in again."
          : "The service did not accept this access token. Sign in again.",
      );
  }

  tokenExpired() {
    return Boolean(this.me.exp && this.me.exp * 1000 <= Date.now());
  }

  get isAdmin() {
    return this.me.roles.includes("admin") || this.me.roles.includes("superAdmin");
  }

  get isSuperAdmin() {
    return this.me.roles.includes("superAdmin");
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(what, roomId = null) {
    for (const listener of this.listeners) listener(what, roomId);
  }

  async start() {
    await this.refreshInbox();
    this.socket = connectHub(this.token);
    this.listen(this.socket);
    this.refreshTimer = setInterval(() => this.refreshInbox().catch(() => {}), INBOX_REFRESH_MS);
  }

  stop() {
    clearInterval(this.refreshTimer);
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    for (const room of this.rooms.values()) for (const timer of room.typing.values()) clearTimeout(timer);
  }

  expire(message) {
    if (this.stopped) return;
    this.stopped = true;
    this.stop();
    this.onSignedOut?.(message);
  }

  room(id) {
    let room = this.rooms.get(id);
    if (!room) {
      room = newRoom(id);
      this.rooms.set(id, room);
    }
    return room;
  }

  // ---- conversations (REST) ----

  async refreshInbox() {
    const data = await this.api.myConversations();
    const seen = new Set();
    for (const conversation of data.conversations || []) {
      seen.add(conversation.id);
      this.conversations.set(conversation.id, conversation);
      if (this.connection === "online" && conversation.status === "active" && !this.room(conversation.id).joined) {
        this.join(conversation.id);
      }
    }
    for (const id of [...this.conversations.keys()]) {
      if (!seen.has(id) && !this.conversations.get(id).extra) this.conversations.delete(id);
    }
    this.changed("inbox");
  }

  sortedConversations() {
    return [...this.conversations.values()]
      .filter((c) => !c.extra)
      .sort((a, b) => {
        const byMessage = stamp(b.lastMessageAt) - stamp(a.lastMessageAt);
        if (byMessage) return byMessage;
        if (!a.lastMessageAt !== !b.lastMessageAt) return a.lastMessageAt ? -1 : 1;
        return stamp(b.createdAt) - stamp(a.createdAt);
      });
  }

  otherOf(conversation) {
    const { participantA: a, participantB: b } = conversation;
    if (a === this.me.id) return { id: b, name: conversation.participantBName || "Unknown user" };
    if (b === this.me.id) return { id: a, name: conversation.participantAName || "Unknown user" };
    // Someone else's conversation (a super admin moderating it): both names.
    return {
      id: b,
      name: `${conversation.participantAName || "Unknown"} & ${conversation.participantBName || "Unknown"}`,
    };
  }

  avatarOf(userId) {
    for (const room of this.rooms.values()) {
      const avatar = room.names.get(userId)?.avatar;
      if (avatar) return avatar;
    }
    return null;
  }

  unreadTotal() {
    let total = 0;
    for (const c of this.conversations.values()) total += c.extra ? 0 : c.unreadCount || 0;
    return total;
  }

  async openExtra(conversationId) {
    // A conversation the user is not part of (admins may read any): fetched, then joined.
    if (!this.conversations.has(conversationId)) {
      const data = await this.api.conversation(conversationId);
      this.conversations.set(conversationId, { ...data.conversation, extra: true, unreadCount: 0 });
    }
    if (this.connection === "online" && !this.room(conversationId).joined) this.join(conversationId);
    this.changed("inbox");
    this.changed("room", conversationId);
  }

  async createAdminConversation(conversationType, participantB, participantBName) {
    const data = await this.api.createConversation({
      conversationType,
      participantA: this.me.id,
      participantB,
      ...(participantBName ? { participantBName } : {}),
    });
    const conversation = { unreadCount: 0, ...data.conversation };
    this.conversations.set(conversation.id, conversation);
    if (this.connection === "online") this.join(conversation.id);
    this.changed("inbox");
    return conversation;
  }

  knownPeople() {
    const people = new Map();
    for (const c of this.conversations.values()) {
      for (const [id, name] of [
        [c.participantA, c.participantAName],
        [c.participantB, c.participantBName],
      ]) {
        if (id && id !== this.me.id && !people.has(id)) people.set(id, name || id);
      }
    }
    return people;
  }

  // ---- the hub ----

  listen(socket) {
    socket.on("connect", () => this.onConnect());
    socket.on("disconnect", (reason) => {
      for (const room of this.rooms.values()) {
        room.joined = false;
        room.online.clear();
        for (const timer of room.typing.values()) clearTimeout(timer);
        room.typing.clear();
      }
      this.typingSent.clear();
      this.setConnection("reconnecting");
      // The server closed the socket on purpose (not a lost network): connect again ourselves.
      if (reason === "io server disconnect") socket.connect();
    });
    socket.on("connect_error", (err) => {
      const expired = err?.data?.code === "TOKEN_EXPIRED" || this.tokenExpired();
      if (expired && (err?.data?.code || err?.message === "Invalid token")) {
        return this.expire("Your session has expired. Sign in again.");
      }
      if (err?.message === "Invalid token" || err?.message === "Authentication required") {
        return this.expire("The service did not accept this access token. Sign in again.");
      }
      this.setConnection(this.everConnected ? "reconnecting" : "connecting");
    });
    socket.on("hub:joined", (p) => this.onJoined(p));
    socket.on("hub:history", (p) => this.onHistory(p));
    socket.on("hub:messageArrived", (p) => this.onArrived(p));
    socket.on("hub:messageUpdated", ({ roomId, message }) => {
      const room = this.room(roomId);
      if (room.byId.has(message.id)) this.putMessage(room, message);
      this.changed("room", roomId);
    });
    socket.on("hub:messageDeleted", ({ roomId, messageId }) => this.onDeleted(roomId, messageId));
    socket.on("hub:presence", ({ event, roomId, user }) => {
      const room = this.room(roomId);
      if (!user?.id) return;
      room.names.set(user.id, { fullname: user.fullname, avatar: user.avatar });
      if (event === "joined") room.online.add(user.id);
      if (event === "left") room.online.delete(user.id);
      this.changed("room", roomId);
    });
    socket.on("hub:online", ({ roomId, userId }) => {
      this.room(roomId).online.add(userId);
      this.changed("room", roomId);
    });
    socket.on("hub:offline", ({ roomId, userId }) => {
      this.room(roomId).online.delete(userId);
      this.changed("room", roomId);
    });
    socket.on("hub:typing", ({ roomId, userId }) => this.onTyping(roomId, userId, true));
    socket.on("hub:stopTyping", ({ roomId, userId }) => this.onTyping(roomId, userId, false));
    socket.on("hub:messageRead", ({ roomId, userId, lastReadTimestamp }) => {
      this.noteRead(this.room(roomId), userId, lastReadTimestamp);
      this.changed("room", roomId);
    });
    socket.on("hub:error", (error) => this.onError(error));
    socket.on("hub:silenced", ({ roomId, reason }) => {
      const room = this.room(roomId);
      room.silenced = { reason: reason || null };
      this.changed("room", roomId);
    });
    socket.on("hub:unsilenced", ({ roomId }) => {
      const room = this.room(roomId);
      room.silenced = null;
      if (room.error?.code === "SILENCED") room.error = null;
      this.changed("room", roomId);
    });
    socket.on("hub:blocked", ({ roomId, reason }) => {
      const room = this.room(roomId);
      room.blocked = { reason: reason || null };
      room.joined = false;
      this.changed("room", roomId);
    });
    socket.on("hub:unblocked", ({ roomId }) => {
      const room = this.room(roomId);
      room.blocked = null;
      if (room.error?.code === "BLOCKED") room.error = null;
      this.join(roomId);
      this.changed("room", roomId);
    });
  }

  setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this.changed("connection");
  }

  async onConnect() {
    const reconnect = this.everConnected;
    this.everConnected = true;
    this.setConnection("online");
    const joins = [];
    for (const conversation of this.conversations.values()) {
      if (conversation.status === "active" && !this.room(conversation.id).blocked) joins.push(this.join(conversation.id));
    }
    await Promise.all(joins);
    // Unread counts as the service has them, now that every gap is filled.
    if (reconnect) await this.refreshInbox().catch(() => {});
  }

  async join(roomId) {
    const room = this.room(roomId);
    if (room.joining || !this.socket?.connected) return;
    room.joining = true;
    // Holding messages already: ask only for what came after the newest one.
    const newest = room.messages.length ? room.messages[room.messages.length - 1].id : undefined;
    room.pendingAfter = newest;
    let ack = await request(this.socket, "hub:join", newest ? { roomId, after: newest } : { roomId });
    if (!ack.success && newest && ack.code === "INVALID_PAYLOAD") {
      room.pendingAfter = undefined; // that message is gone: take the latest history instead
      ack = await request(this.socket, "hub:join", { roomId });
    }
    room.joining = false;
    room.pendingAfter = undefined;
    if (!ack.success) {
      if (ack.code === "ROOM_NOT_ELIGIBLE") {
        room.closed = true;
        // No realtime in a closed conversation, but its history stays readable.
        if (!room.messages.length) await this.readClosedHistory(room);
      }
      if (ack.code === "BLOCKED") room.blocked = room.blocked || { reason: null };
      room.error = { code: ack.code, error: ack.error };
    } else if (room.error && ["NOT_JOINED", "TIMEOUT"].includes(room.error.code)) {
      room.error = null;
    }
    this.changed("room", roomId);
    if (this.isReading(roomId)) this.markRead(roomId);
  }

  async readClosedHistory(room) {
    try {
      const page = await this.api.roomMessages(room.id, { limit: HISTORY_PAGE });
      for (const message of [...(page.data || [])].reverse()) this.putMessage(room, message);
      room.hasOlder = room.messages.length < (page.pagination?.total ?? 0);
    } catch {
      // not readable (blocked): the notice says why
    }
  }

  onJoined({ roomId, hubRole, members }) {
    const room = this.room(roomId);
    room.joined = true;
    room.closed = false;
    room.hubRole = hubRole;
    room.online.clear();
    for (const member of members || []) {
      room.names.set(member.id, { fullname: member.fullname, avatar: member.avatar });
      if (member.online !== false) room.online.add(member.id);
    }
    this.changed("room", roomId);
  }

  onHistory({ roomId, messages }) {
    const room = this.room(roomId);
    if (room.pendingAfter) {
      for (const message of messages || []) this.putMessage(room, message); // oldest first
    } else {
      room.messages = [];
      room.byId.clear();
      for (const message of [...(messages || [])].reverse()) this.putMessage(room, message);
      room.hasOlder = (messages || []).length >= HISTORY_PAGE;
    }
    this.changed("room", roomId);
    this.changed("inbox");
  }

  putMessage(room, message) {
    const known = room.byId.get(message.id);
    if (known) {
      room.messages[room.messages.indexOf(known)] = message;
    } else {
      room.messages.push(message);
    }
    room.byId.set(message.id, message);
    if (message.senderId) {
      if (message.senderName) room.names.set(message.senderId, { fullname: message.senderName, avatar: message.senderAvatar });
      // Sending a message marks the room read for its sender.
      this.noteRead(room, message.senderId, message.timestamp);
    }
    return !known;
  }

  noteRead(room, userId, timestamp) {
    if (!userId || userId === this.me.id) return;
    const at = stamp(timestamp);
    if (at > (room.readBy.get(userId) || 0)) room.readBy.set(userId, at);
  }

  onArrived({ roomId, message }) {
    const room = this.room(roomId);
    const added = this.putMessage(room, message);
    const conversation = this.conversations.get(roomId);
    if (added && conversation) {
      conversation.lastMessageAt = message.timestamp;
      conversation.lastMessagePreview = previewOf(message).slice(0, 100);
      if (message.senderId !== this.me.id) {
        if (this.isReading(roomId)) this.markRead(roomId);
        else conversation.unreadCount = (conversation.unreadCount || 0) + 1;
      }
    }
    if (message.senderId) this.clearTyping(room, message.senderId);
    this.changed("room", roomId);
    this.changed("inbox");
  }

  onDeleted(roomId, messageId) {
    const room = this.room(roomId);
    const message = room.byId.get(messageId);
    if (!message) return;
    room.byId.delete(messageId);
    room.messages.splice(room.messages.indexOf(message), 1);
    const conversation = this.conversations.get(roomId);
    const last = room.messages[room.messages.length - 1];
    if (conversation) {
      conversation.lastMessagePreview = last ? previewOf(last).slice(0, 100) : null;
      conversation.lastMessageAt = last ? last.timestamp : null;
    }
    this.changed("room", roomId);
    this.changed("inbox");
  }

  onTyping(roomId, userId, typing) {
    const room = this.room(roomId);
    if (userId === this.me.id) return;
    this.clearTyping(room, userId);
    if (typing) {
      room.typing.set(
        userId,
        setTimeout(() => {
          room.typing.delete(userId);
          this.changed("room", roomId);
          this.changed("inbox");
        }, TYPING_SHOWN_MS),
      );
    }
    this.changed("room", roomId);
    this.changed("inbox");
  }

  clearTyping(room, userId) {
    const timer = room.typing.get(userId);
    if (timer) clearTimeout(timer);
    room.typing.delete(userId);
  }

  onError(error) {
    const roomId = error?.roomId;
    if (roomId) {
      const room = this.room(roomId);
      room.error = { code: error.code, error: error.error };
      if (error.code === "SILENCED") room.silenced = room.silenced || { reason: null };
      if (error.code === "ROOM_NOT_ELIGIBLE") room.closed = true;
      this.changed("room", roomId);
    } else {
      this.lastError = { code: error?.code, error: error?.error };
      this.changed("error");
    }
  }

  // ---- what the user does ----

  isReading(roomId) {
    return this.current === roomId && document.visibilityState === "visible";
  }

  open(roomId) {
    this.current = roomId;
    if (roomId) {
      const room = this.room(roomId);
      if (room.error && !["ROOM_NOT_ELIGIBLE", "BLOCKED"].includes(room.error.code)) room.error = null;
      if (this.conversations.get(roomId)?.extra || !room.joined) this.join(roomId);
      this.markRead(roomId);
    }
    this.changed("inbox");
    this.changed("room", roomId);
  }

  markRead(roomId) {
    const room = this.room(roomId);
    const conversation = this.conversations.get(roomId);
    if (conversation && conversation.unreadCount) {
      conversation.unreadCount = 0;
      this.changed("inbox");
    }
    const newest = room.messages[room.messages.length - 1];
    if (!newest || !room.joined) return;
    const at = stamp(newest.timestamp);
    if (at <= room.readSent) return;
    room.readSent = at;
    this.socket.emit("hub:event", { roomId, event: "messageRead", data: { lastReadTimestamp: newest.timestamp } });
  }

  async send(roomId, messageType, content, replyTo) {
    this.stopTyping(roomId);
    const payload = { roomId, messageType, content, clientMessageId: uuid4() };
    if (replyTo) payload.replyTo = replyTo;
    const ack = await request(this.socket, "hub:send", payload);
    const room = this.room(roomId);
    if (ack.success) {
      if (room.error && room.error.code !== "ROOM_NOT_ELIGIBLE") room.error = null;
      if (ack.message) this.onArrived({ roomId, message: ack.message });
    } else {
      room.error = { code: ack.code, error: ack.error };
      if (ack.code === "SILENCED") room.silenced = room.silenced || { reason: null };
    }
    this.changed("room", roomId);
    return ack;
  }

  typing(roomId) {
    const room = this.room(roomId);
    // A silenced user's typing events would only be refused.
    if (!this.socket?.connected || !room.joined || room.silenced) return;
    const timer = this.typingSent.get(roomId);
    if (timer) clearTimeout(timer);
    else this.socket.emit("hub:event", { roomId, event: "typing" });
    this.typingSent.set(
      roomId,
      setTimeout(() => this.stopTyping(roomId), TYPING_IDLE_MS),
    );
  }

  stopTyping(roomId) {
    const timer = this.typingSent.get(roomId);
    if (!timer) return;
    clearTimeout(timer);
    this.typingSent.delete(roomId);
    if (this.socket?.connected) this.socket.emit("hub:event", { roomId, event: "stopTyping" });
  }

  async loadOlder(roomId) {
    const room = this.room(roomId);
    if (room.loadingOlder || !room.hasOlder) return 0;
    room.loadingOlder = true;
    this.changed("room", roomId);
    try {
      const page = await this.api.roomMessages(roomId, { limit: HISTORY_PAGE, offset: room.messages.length });
      const older = (page.data || []).filter((m) => !room.byId.has(m.id)).reverse();
      for (const message of older) {
        room.byId.set(message.id, message);
        if (message.senderName) room.names.set(message.senderId, { fullname: message.senderName, avatar: message.senderAvatar });
      }
      room.messages = [...older, ...room.messages];
      room.hasOlder = room.messages.length < (page.pagination?.total ?? 0);
      return older.length;
    } finally {
      room.loadingOlder = false;
      this.changed("room", roomId);
    }
  }

  async editMessage(roomId, messageId, body) {
    const data = await this.api.editMessage(messageId, { body });
    const room = this.room(roomId);
    if (data.chatMessage && room.byId.has(messageId)) this.putMessage(room, data.chatMessage);
    this.changed("room", roomId);
  }

  async deleteMessage(roomId, messageId) {
    await this.api.deleteRoomMessage(roomId, messageId);
    this.onDeleted(roomId, messageId);
  }

  moderate(roomId, action, userId, reason, duration) {
    const payload = { roomId, userId };
    if (action === "block" || action === "silence") {
      if (reason) payload.reason = reason;
      payload.duration = duration;
    }
    return request(this.socket, `hub:${action}`, payload);
  }

  async recentConversations() {
    // Admins may read every message: the rooms of the latest ones, for moderation.
    const data = await this.api.recentMessages(100);
    const ids = [];
    for (const message of data.chatMessages || []) {
      if (!ids.includes(message.roomId) && !this.conversations.has(message.roomId)) ids.push(message.roomId);
    }
    const found = [];
    for (const id of ids.slice(0, 20)) {
      try {
        found.push((await this.api.conversation(id)).conversation);
      } catch {
        // deleted meanwhile, or not readable: left out
      }
    }
    return found;
  }
}
