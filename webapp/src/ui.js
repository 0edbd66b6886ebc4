// The signed-in page: top bar, inbox, conversation, admin tools. Renders from a Session.
import { avatar } from "./avatar.js";
import { messageKey, renderMessage } from "./bubbles.js";
import { clear, h } from "./dom.js";
import { errorInWords, RESOLUTION_LABELS, shortTime } from "./format.js";
import { adminTools, moderationPanel } from "./admin.js";

const LABELS = { adminStudent: "Admin Notice", adminTutor: "Admin" };
const ROLE_NAMES = { superAdmin: "Super admin", admin: "Admin", tutor: "Tutor", student: "Student" };
const NOTIFICATION_NOTICE = "This is a notification channel. You cannot reply.";

export class ChatPage {
  constructor(root, session, onSignOut) {
    this.root = root;
    this.session = session;
    this.onSignOut = onSignOut;
    this.view = { replyTo: null, editing: null, confirmingDelete: null, mode: "text", moderating: false };
    this.cache = new Map();
    this.build();
    this.unsubscribe = session.subscribe((what, roomId) => this.update(what, roomId));
    this.onHash = () => this.route();
    window.addEventListener("hashchange", this.onHash);
    this.onVisible = () => {
      if (document.visibilityState === "visible" && session.current) session.markRead(session.current);
    };
    document.addEventListener("visibilitychange", this.onVisible);
    this.route();
  }

  destroy() {
    this.unsubscribe();
    window.removeEventListener("hashchange", this.onHash);
    document.removeEventListener("visibilitychange", this.onVisible);
  }

  build() {
    const me = this.session.me;
    this.connectionEl = h("div", { class: "connection", role: "status", "aria-live": "polite" });
    this.inboxEl = h("ul", { class: "inbox", "aria-label": "Conversations" });
    this.sidebarExtras = h("div", { class: "sidebar-extras" });
    this.convEl = h("section", { class: "conversation", "aria-label": "Conversation" });
    this.shell = h(
      "div",
      { class: "shell" },
      h(
        "header",
        { class: "topbar" },
        h("h1", { class: "brand" }, "TutorHub ", h("span", {}, "Messages")),
        this.connectionEl,
        h(
          "div",
          { class: "me" },
          avatar(me.fullname || "You", me.avatar, "sm"),
          h("span", { class: "me-name" }, me.fullname || "Signed in"),
          h("span", { class: "role-chip" }, ROLE_NAMES[me.role] || me.role),
        ),
        h("button", { type: "button", class: "sign-out", onclick: () => this.onSignOut() }, "Sign out"),
      ),
      h(
        "div",
        { class: "main" },
        h(
          "aside",
          { class: "sidebar", "aria-label": "Inbox" },
          h("h2", { class: "sidebar-title" }, "Inbox"),
          this.inboxEl,
          this.sidebarExtras,
        ),
        this.convEl,
      ),
    );
    clear(this.root).appendChild(this.shell);
    if (this.session.isAdmin) this.sidebarExtras.appendChild(adminTools(this));
    this.renderConnection();
    this.renderInbox();
  }

  route() {
    const match = /^#\/c\/([0-9a-fA-F-]{36})$/.exec(location.hash);
    const roomId = match ? match[1].toLowerCase() : null;
    if (roomId !== this.session.current) {
      this.view = { replyTo: null, editing: null, confirmingDelete: null, mode: "text", moderating: false };
      this.cache.clear();
      this.convBuiltFor = undefined;
      if (roomId && !this.session.conversations.has(roomId) && this.session.isAdmin) {
        this.session.openExtra(roomId).catch((error) => this.toast(error.message));
      }
      this.session.open(roomId);
    }
    this.shell.classList.toggle("has-room", Boolean(roomId));
    this.renderConversation();
  }

  openRoom(roomId) {
    location.hash = `#/c/${roomId}`;
  }

  update(what, roomId) {
    if (what === "connection") {
      this.renderConnection();
      this.renderConversation();
    } else if (what === "inbox") this.renderInbox();
    else if (what === "room" && roomId === this.session.current) this.renderConversation();
    else if (what === "error") this.toast(errorInWords(this.session.lastError));
  }

  toast(text) {
    const el = h("div", { class: "toast", role: "alert" }, text);
    this.shell.appendChild(el);
    setTimeout(() => el.remove(), 6000);
  }

  renderConnection() {
    const state = this.session.connection;
    this.connectionEl.className = `connection ${state}`;
    this.connectionEl.textContent = state === "online" ? "" : state === "reconnecting" ? "Reconnecting…" : "Connecting…";
  }

  // ---- inbox ----

  renderInbox() {
    const s = this.session;
    const items = s.sortedConversations().map((c) => {
      const other = s.otherOf(c);
      const room = s.rooms.get(c.id);
      const typing = room && room.typing.size > 0;
      const label = LABELS[c.conversationType];
      const unread = c.unreadCount || 0;
      return h(
        "li",
        {},
        h(
          "a",
          {
            href: `#/c/${c.id}`,
            class: `inbox-item${c.id === s.current ? " active" : ""}${unread ? " unread" : ""}`,
            "aria-current": c.id === s.current ? "page" : false,
            dataset: { conversationId: c.id, type: c.conversationType },
          },
          avatar(other.name, s.avatarOf(other.id)),
          h(
            "div",
            { class: "inbox-text" },
            h(
              "div",
              { class: "inbox-top" },
              h("span", { class: "inbox-name" }, other.name),
              h("time", { class: "inbox-time", datetime: c.lastMessageAt || "" }, shortTime(c.lastMessageAt)),
            ),
            h(
              "div",
              { class: "inbox-bottom" },
              label ? h("span", { class: `label label-${c.conversationType}` }, label) : null,
              h(
                "span",
                { class: `inbox-preview${typing ? " typing" : ""}` },
                typing ? "typing…" : c.status === "closed" ? "Conversation closed" : c.lastMessagePreview || c.courseTitle || "No messages yet",
              ),
              unread ? h("span", { class: "badge", "aria-label": `${unread} unread` }, unread > 99 ? "99+" : String(unread)) : null,
            ),
          ),
        ),
      );
    });
    if (!items.length) items.push(h("li", { class: "empty" }, "No conversations yet."));
    this.inboxEl.replaceChildren(...items);
    const total = s.unreadTotal();
    document.title = total ? `(${total}) TutorHub Messages` : "TutorHub Messages";
  }

  // ---- conversation ----

  renderConversation() {
    const s = this.session;
    const roomId = s.current;
    if (!roomId) {
      this.convBuiltFor = null;
      this.convEl.replaceChildren(
        h("div", { class: "placeholder" }, h("p", {}, "Select a conversation to start chatting.")),
      );
      return;
    }
    const conversation = s.conversations.get(roomId);
    if (!conversation) {
      this.convBuiltFor = null;
      this.convEl.replaceChildren(h("div", { class: "placeholder" }, h("p", {}, "Loading the conversation…")));
      return;
    }
    if (this.convBuiltFor !== roomId) this.buildConversation(roomId);
    this.renderHeader();
    this.renderMessages();
    this.renderFooter();
  }

  buildConversation(roomId) {
    this.convBuiltFor = roomId;
    this.headEl = h("header", { class: "conv-head" });
    this.modEl = h("div", { class: "moderation-slot" });
    this.listEl = h("div", { class: "messages", role: "log", "aria-label": "Messages", tabindex: "0" });
    this.listEl.addEventListener("scroll", () => {
      if (this.listEl.scrollTop < 40) this.loadOlder();
    });
    this.typingEl = h("div", { class: "typing-line", "aria-live": "polite" });
    this.errorEl = h("div", { class: "room-error", role: "alert" });
    this.noticeEl = h("div", { class: "room-notice" });
    this.textArea = h("textarea", {
      id: "composer-text",
      rows: 1,
      placeholder: "Write a message…",
      autocomplete: "off",
    });
    this.textArea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.textArea.addEventListener("input", () => {
      this.autosize();
      if (this.textArea.value.trim()) this.session.typing(roomId);
      else this.session.stopTyping(roomId);
    });
    this.sendButton = h("button", { type: "submit", class: "send primary" }, "Send");
    this.replyBar = h("div", { class: "reply-bar" });
    this.warningOptions = h("div", { class: "warning-options" });
    this.composer = h(
      "form",
      {
        class: "composer",
        "aria-label": "Send a message",
        onsubmit: (event) => {
          event.preventDefault();
          this.submit();
        },
      },
      this.replyBar,
      this.warningOptions,
      h(
        "div",
        { class: "composer-row" },
        h("label", { for: "composer-text", class: "visually-hidden" }, "Message"),
        this.textArea,
        this.sendButton,
      ),
    );
    this.footEl = h("div", { class: "conv-foot" }, this.typingEl, this.errorEl, this.noticeEl, this.composer);
    this.convEl.replaceChildren(this.headEl, this.modEl, this.listEl, this.footEl);
    this.firstPaint = true;
  }

  renderHeader() {
    const s = this.session;
    const c = s.conversations.get(s.current);
    const room = s.room(s.current);
    const other = s.otherOf(c);
    const online = room.online.has(other.id);
    const label = LABELS[c.conversationType];
    const canModerate = room.hubRole === "system";
    const presence = c.status === "closed" ? "Closed" : online ? "Online" : "Offline";
    this.headEl.replaceChildren(
      ...[
      h("a", { href: "#", class: "back", "aria-label": "Back to the inbox" }, "‹"),
      avatar(other.name, s.avatarOf(other.id)),
      h(
        "div",
        { class: "conv-title" },
        h("h2", {}, h("span", { class: "conv-name" }, other.name), label ? h("span", { class: `label label-${c.conversationType}` }, label) : null),
        h(
          "div",
          { class: "conv-sub" },
          h("span", { class: `presence ${online ? "online" : "offline"}` }, presence),
          c.courseTitle ? h("span", { class: "course" }, c.courseTitle) : null,
        ),
      ),
      canModerate
        ? h(
            "button",
            {
              type: "button",
              class: `moderate-toggle${this.view.moderating ? " active" : ""}`,
              "aria-expanded": String(this.view.moderating),
              onclick: () => {
                this.view.moderating = !this.view.moderating;
                this.renderConversation();
              },
            },
            "Moderate",
          )
        : null,
      ].filter(Boolean),
    );
    if (canModerate && this.view.moderating) {
      if (!this.modEl.firstChild || this.modEl.dataset.room !== s.current) {
        this.modEl.dataset.room = s.current;
        this.modEl.replaceChildren(moderationPanel(this, c));
      }
    } else this.modEl.replaceChildren();
  }

  loadOlder() {
    const s = this.session;
    const room = s.room(s.current);
    if (!room.hasOlder || room.loadingOlder) return;
    this.keepScrollFromBottom = this.listEl.scrollHeight - this.listEl.scrollTop;
    s.loadOlder(s.current).catch((error) => this.toast(error.message));
  }

  jumpTo(messageId) {
    const el = this.listEl.querySelector(`#msg-${CSS.escape(messageId)}`);
    if (!el) {
      this.toast("The original message is not loaded: scroll up to load older messages.");
      return;
    }
    el.scrollIntoView({ block: "center", behavior: "smooth" });
    el.classList.remove("flash");
    void el.offsetWidth;
    el.classList.add("flash");
  }

  renderMessages() {
    const s = this.session;
    const roomId = s.current;
    const c = s.conversations.get(roomId);
    const room = s.room(roomId);
    const list = this.listEl;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const other = s.otherOf(c);
    const otherRead = room.readBy.get(other.id) || 0;
    const canSend = this.canSend(room, c);
    // "Seen" under the last of my messages the other participant has read.
    let seenId = null;
    for (const m of room.messages) {
      if (m.senderId === s.me.id && m.messageType !== "system" && Date.parse(m.timestamp) <= otherRead) seenId = m.id;
    }
    const nodes = [];
    if (room.hasOlder) {
      nodes.push(
        h(
          "button",
          { type: "button", class: "load-older", disabled: room.loadingOlder, onclick: () => this.loadOlder() },
          room.loadingOlder ? "Loading…" : "Load older messages",
        ),
      );
    } else if (room.messages.length) {
      nodes.push(h("div", { class: "history-start" }, "Start of the conversation"));
    } else if (room.joined) {
      nodes.push(h("div", { class: "history-start" }, "No messages yet."));
    }
    const fresh = new Map();
    let previousSender = null;
    for (const m of room.messages) {
      const mine = m.senderId === s.me.id;
      const view = {
        mine,
        showSender: !mine && m.senderId !== previousSender,
        seen: m.id === seenId,
        editing: this.view.editing === m.id,
        confirmingDelete: this.view.confirmingDelete === m.id,
        canReply: canSend && m.messageType !== "system",
        canEdit: mine && m.messageType === "text" && room.joined,
        canDelete: (mine || room.hubRole === "system") && room.joined,
        onReply: (message) => {
          this.view.replyTo = message;
          this.renderFooter();
          this.textArea.focus();
        },
        onJump: (id) => this.jumpTo(id),
        onEdit: (message) => {
          this.view.editing = message.id;
          this.renderMessages();
        },
        onCancelEdit: () => {
          this.view.editing = null;
          this.renderMessages();
        },
        onSaveEdit: (message, body) => {
          if (!body.trim()) return;
          s.editMessage(roomId, message.id, body)
            .then(() => {
              this.view.editing = null;
              this.renderMessages();
            })
            .catch((error) => this.toast(error.message));
        },
        onDelete: (message, confirmed) => {
          if (confirmed === null) this.view.confirmingDelete = message.id;
          else {
            this.view.confirmingDelete = null;
            if (confirmed) s.deleteMessage(roomId, message.id).catch((error) => this.toast(error.message));
          }
          this.renderMessages();
        },
      };
      previousSender = m.messageType === "system" ? null : m.senderId;
      const key = messageKey(m, view);
      let el = this.cache.get(key);
      if (!el) el = renderMessage(m, view);
      fresh.set(key, el);
      nodes.push(el);
    }
    this.cache = fresh;
    list.replaceChildren(...nodes);
    if (this.keepScrollFromBottom !== undefined && !room.loadingOlder) {
      list.scrollTop = list.scrollHeight - this.keepScrollFromBottom;
      this.keepScrollFromBottom = undefined;
    } else if (this.firstPaint || atBottom) {
      list.scrollTop = list.scrollHeight;
      if (room.messages.length) this.firstPaint = false;
    }
    for (const img of list.querySelectorAll("img:not([data-watched])")) {
      img.dataset.watched = "1";
      img.addEventListener("load", () => {
        if (list.scrollHeight - list.scrollTop - list.clientHeight < 400) list.scrollTop = list.scrollHeight;
      });
    }
  }

  canSend(room, c) {
    return Boolean(room.joined && room.hubRole && room.hubRole !== "viewer" && c.status === "active" && !room.blocked);
  }

  renderFooter() {
    const s = this.session;
    const c = s.conversations.get(s.current);
    const room = s.room(s.current);
    const typingNames = [...room.typing.keys()].map((id) => room.names.get(id)?.fullname || "Someone");
    this.typingEl.textContent = typingNames.length ? `${typingNames.join(", ")} ${typingNames.length > 1 ? "are" : "is"} typing…` : "";

    const errorText = room.error && !(room.error.code === "BLOCKED" && room.blocked) ? errorInWords(room.error) : "";
    this.errorEl.textContent = errorText;
    this.errorEl.hidden = !errorText;

    const viewer = room.hubRole === "viewer" || (c.conversationType === "adminStudent" && c.participantB === s.me.id);
    let notice = "";
    if (viewer) notice = NOTIFICATION_NOTICE;
    else if (room.blocked) notice = `You have been blocked from this conversation${room.blocked.reason ? `: ${room.blocked.reason}` : "."}`;
    else if (c.status === "closed" || room.closed) notice = "This conversation is closed.";
    else if (room.silenced) notice = `You have been silenced in this conversation${room.silenced.reason ? `: ${room.silenced.reason}` : ""}. Your messages will not be sent.`;
    this.noticeEl.textContent = notice;
    this.noticeEl.hidden = !notice;
    this.noticeEl.className = `room-notice${viewer ? " notification-channel" : ""}`;

    const showComposer = !viewer && !room.blocked && c.status === "active" && !room.closed;
    this.composer.hidden = !showComposer;
    const online = s.connection === "online" && room.joined;
    this.sendButton.disabled = !online;
    this.textArea.placeholder = online ? (this.view.mode === "warning" ? "Write the warning…" : "Write a message…") : "Waiting for the connection…";

    const reply = this.view.replyTo;
    this.replyBar.replaceChildren(
      ...(reply
        ? [
            h("span", { class: "reply-label" }, `Replying to ${reply.senderName || "a message"}: `),
            h("span", { class: "reply-text" }, (reply.content?.body || reply.content?.caption || reply.content?.fileName || "").slice(0, 80)),
            h(
              "button",
              {
                type: "button",
                class: "reply-cancel",
                "aria-label": "Cancel the reply",
                onclick: () => {
                  this.view.replyTo = null;
                  this.renderFooter();
                },
              },
              "✕",
            ),
          ]
        : []),
    );
    this.replyBar.hidden = !reply;
    this.renderWarningOptions(c, room);
  }

  renderWarningOptions(c, room) {
    const admin = this.session.isAdmin && this.canSend(room, c);
    if (!admin) {
      this.view.mode = "text";
      this.warningOptions.replaceChildren();
      this.warningOptions.hidden = true;
      return;
    }
    this.warningOptions.hidden = false;
    if (this.warningOptions.dataset.room === c.id && this.warningOptions.firstChild) {
      this.warningOptions.classList.toggle("warning-mode", this.view.mode === "warning");
      return;
    }
    this.warningOptions.dataset.room = c.id;
    const modeSelect = h(
      "select",
      { id: "composer-kind", onchange: (e) => {
        this.view.mode = e.target.value;
        this.warningOptions.classList.toggle("warning-mode", this.view.mode === "warning");
        this.renderFooter();
      } },
      h("option", { value: "text" }, "Message"),
      h("option", { value: "warning" }, "Warning"),
    );
    modeSelect.value = this.view.mode;
    this.severitySelect = h(
      "select",
      { id: "composer-severity" },
      h("option", { value: "info" }, "Info"),
      h("option", { value: "warning", selected: true }, "Warning"),
      h("option", { value: "critical" }, "Critical"),
    );
    this.resolutionSelect = h(
      "select",
      { id: "composer-resolution" },
      h("option", { value: "" }, "None"),
      ...Object.entries(RESOLUTION_LABELS).map(([value, text]) => h("option", { value }, text)),
    );
    this.warningOptions.replaceChildren(
      h("label", { for: "composer-kind" }, "Send as"),
      modeSelect,
      h("span", { class: "warning-fields" },
        h("label", { for: "composer-severity" }, "Severity"),
        this.severitySelect,
        h("label", { for: "composer-resolution" }, "Resolution"),
        this.resolutionSelect,
      ),
    );
    this.warningOptions.classList.toggle("warning-mode", this.view.mode === "warning");
  }

  async submit() {
    const s = this.session;
    const roomId = s.current;
    const text = this.textArea.value;
    if (!text.trim() || this.sendButton.disabled) return;
    let messageType = "text";
    let content = { body: text };
    if (this.view.mode === "warning") {
      messageType = "warning";
      content = { body: text, severity: this.severitySelect.value };
      if (this.resolutionSelect.value) content.resolutionType = this.resolutionSelect.value;
    }
    const replyTo = this.view.replyTo?.id;
    this.textArea.value = "";
    this.autosize();
    this.view.replyTo = null;
    this.renderFooter();
    const ack = await s.send(roomId, messageType, content, replyTo);
    if (!ack.success && !this.textArea.value && s.current === roomId) {
      this.textArea.value = text; // nothing is lost: the draft comes back with the reason
      this.autosize();
    }
  }

  autosize() {
    this.textArea.style.height = "auto";
    this.textArea.style.height = `${Math.min(this.textArea.scrollHeight, 160)}px`;
  }
}
