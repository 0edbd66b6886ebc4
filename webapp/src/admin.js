// Admin tools: starting admin channels (admins), and blocking/silencing (super admins).
import { h } from "./dom.js";

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DURATIONS = [
  ["600", "10 minutes"],
  ["3600", "1 hour"],
  ["86400", "1 day"],
  ["604800", "1 week"],
  ["0", "Permanently"],
];

export function adminTools(page) {
  const s = page.session;
  const people = h("datalist", { id: "known-people" });
  const refreshPeople = () => {
    people.replaceChildren(...[...s.knownPeople()].map(([id, name]) => h("option", { value: id }, name)));
  };
  const type = h(
    "select",
    { id: "new-type" },
    h("option", { value: "adminStudent" }, "Admin notice to a student"),
    h("option", { value: "adminTutor" }, "Admin chat with a tutor"),
  );
  const user = h("input", { id: "new-user", list: "known-people", required: true, autocomplete: "off", placeholder: "User id" });
  const name = h("input", { id: "new-name", autocomplete: "off", placeholder: "Shown name (optional)" });
  const status = h("p", { class: "form-status", role: "status" });
  user.addEventListener("focus", refreshPeople);
  user.addEventListener("input", () => {
    const known = s.knownPeople().get(user.value.trim().toLowerCase());
    if (known && !name.value) name.value = known;
  });
  const form = h(
    "form",
    {
      class: "admin-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const id = user.value.trim().toLowerCase();
        if (!UUID.test(id)) {
          status.textContent = "Enter the user's id (a UUID).";
          return;
        }
        status.textContent = "Starting…";
        try {
          const conversation = await s.createAdminConversation(type.value, id, name.value.trim());
          status.textContent = "";
          user.value = "";
          name.value = "";
          page.openRoom(conversation.id);
        } catch (error) {
          status.textContent = error.message;
        }
      },
    },
    h("label", { for: "new-type" }, "Channel"),
    type,
    h("label", { for: "new-user" }, "User"),
    user,
    people,
    h("label", { for: "new-name" }, "Name"),
    name,
    h("button", { type: "submit", class: "primary" }, "Start conversation"),
    status,
  );
  const tools = h("details", { class: "admin-tools" }, h("summary", {}, "Start an admin conversation"), form);
  const wrapper = h("div", {}, tools);
  if (s.isSuperAdmin) wrapper.appendChild(otherConversations(page));
  return wrapper;
}

function otherConversations(page) {
  const s = page.session;
  const list = h("ul", { class: "other-list" });
  const status = h("p", { class: "form-status", role: "status" });
  const load = async () => {
    status.textContent = "Loading…";
    try {
      const found = await s.recentConversations();
      list.replaceChildren(
        ...found.map((c) =>
          h(
            "li",
            {},
            h(
              "a",
              { href: `#/c/${c.id}`, class: "other-item", dataset: { conversationId: c.id } },
              `${c.participantAName || "Unknown"} & ${c.participantBName || "Unknown"}`,
              h("span", { class: "other-type" }, c.conversationType),
            ),
          ),
        ),
      );
      status.textContent = found.length ? "" : "No other conversations with messages.";
    } catch (error) {
      status.textContent = error.message;
    }
  };
  const details = h(
    "details",
    { class: "admin-tools other-conversations" },
    h("summary", {}, "Moderate other conversations"),
    h("button", { type: "button", onclick: load }, "Refresh"),
    status,
    list,
  );
  details.addEventListener("toggle", () => {
    if (details.open) load();
  });
  return details;
}

export function moderationPanel(page, conversation) {
  const s = page.session;
  const roomId = conversation.id;
  const targets = [
    [conversation.participantA, conversation.participantAName],
    [conversation.participantB, conversation.participantBName],
  ].filter(([id]) => id && id !== s.me.id);
  const target = h(
    "select",
    { id: "mod-user" },
    ...targets.map(([id, name]) => h("option", { value: id }, name || id)),
  );
  const duration = h("select", { id: "mod-duration" }, ...DURATIONS.map(([value, text]) => h("option", { value }, text)));
  const reason = h("input", { id: "mod-reason", maxlength: 500, autocomplete: "off", placeholder: "Shown to the person" });
  const status = h("p", { class: "form-status", role: "status" });
  const act = (action) => async () => {
    const who = target.selectedOptions[0]?.textContent || "The user";
    const seconds = Number(duration.value);
    status.textContent = "…";
    const ack = await s.moderate(roomId, action, target.value, reason.value.trim(), seconds);
    if (!ack.success) {
      status.textContent = ack.error || "The action failed.";
      return;
    }
    const span = seconds ? `for ${duration.selectedOptions[0].textContent}` : "permanently";
    status.textContent = {
      silence: `${who} is silenced ${span}.`,
      block: `${who} is blocked ${span}.`,
      unsilence: `${who} may send messages again.`,
      unblock: `${who} may join again.`,
    }[action];
  };
  return h(
    "div",
    { class: "moderation", role: "group", "aria-label": "Moderation" },
    h("label", { for: "mod-user" }, "Person"),
    target,
    h("label", { for: "mod-duration" }, "For"),
    duration,
    h("label", { for: "mod-reason" }, "Reason"),
    reason,
    h(
      "div",
      { class: "mod-buttons" },
      h("button", { type: "button", class: "warn", onclick: act("silence") }, "Silence"),
      h("button", { type: "button", class: "danger", onclick: act("block") }, "Block"),
      h("button", { type: "button", onclick: act("unsilence") }, "Lift silence"),
      h("button", { type: "button", onclick: act("unblock") }, "Lift block"),
    ),
    status,
  );
}
