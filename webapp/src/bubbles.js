// One element per message, by type. Everything from a message goes in as text or as a checked URL.
import { h } from "./dom.js";
import { clockTime, fileSize, humanize, RESOLUTION_LABELS, safeUrl, SEVERITY_LABELS } from "./format.js";

function systemText(content) {
  const data = content?.systemData;
  if (data && typeof data === "object" && typeof data.text === "string" && data.text.trim()) return data.text;
  return humanize(content?.systemAction) || "System message";
}

function imageBody(content) {
  const full = safeUrl(content.mediaUrl);
  const thumb = safeUrl(content.thumbnail) || full;
  const size =
    Number.isInteger(content.width) && Number.isInteger(content.height) && content.width > 0 && content.height > 0
      ? { width: content.width, height: content.height }
      : {};
  const img = thumb
    ? h("img", { src: thumb, alt: content.caption || "Shared image", loading: "lazy", ...size })
    : h("span", { class: "missing" }, "Image unavailable");
  return h(
    "figure",
    { class: "image" },
    full ? h("a", { href: full, target: "_blank", rel: "noopener noreferrer", title: "Open the full image" }, img) : img,
    content.caption ? h("figcaption", {}, content.caption) : null,
  );
}

function extensionOf(fileName) {
  const match = /\.([A-Za-z0-9]{1,4})$/.exec(String(fileName || ""));
  return match ? match[1].toUpperCase() : "FILE";
}

function documentBody(content) {
  const url = safeUrl(content.mediaUrl);
  const details = [fileSize(content.fileSize), content.mimeType].filter(Boolean).join(" · ");
  const name = h("span", { class: "file-name" }, content.fileName || "Document");
  return h(
    "div",
    { class: "document" },
    h("span", { class: "file-icon", "aria-hidden": "true" }, extensionOf(content.fileName)),
    h(
      "div",
      { class: "file-text" },
      url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", download: content.fileName || true }, name) : name,
      details ? h("span", { class: "file-details" }, details) : null,
    ),
  );
}

function warningBody(message) {
  const c = message.content || {};
  const severity = ["info", "warning", "critical"].includes(c.severity) ? c.severity : "warning";
  return h(
    "div",
    { class: `alert severity-${severity}`, role: "note", "aria-label": SEVERITY_LABELS[severity] },
    h(
      "div",
      { class: "alert-title" },
      h("span", { class: "alert-icon", "aria-hidden": "true" }, severity === "info" ? "ℹ" : "⚠"),
      SEVERITY_LABELS[severity],
      h("span", { class: "severity" }, severity),
    ),
    h("p", { class: "alert-body" }, c.body || ""),
    c.resolutionType ? h("p", { class: "resolution" }, `Resolution: ${RESOLUTION_LABELS[c.resolutionType] || c.resolutionType}`) : null,
    h("div", { class: "alert-meta" }, `${message.senderName || "TutorHub"} · `, h("time", { datetime: message.timestamp }, clockTime(message.timestamp))),
  );
}

export function messageKey(message, view) {
  return [message.id, message.recordVersion, message.updatedAt, view.mine, view.showSender, view.seen, view.editing, view.canDelete, view.canReply, view.canEdit, view.confirmingDelete].join("|");
}

export function renderMessage(message, view) {
  const type = message.messageType;
  const content = message.content || {};
  if (type === "system") {
    return h(
      "div",
      { class: "msg system", id: `msg-${message.id}`, dataset: { messageId: message.id, type } },
      h("span", { class: "system-text" }, systemText(content)),
      h("time", { datetime: message.timestamp }, clockTime(message.timestamp)),
    );
  }
  if (type === "warning") {
    return h(
      "div",
      { class: "msg warning", id: `msg-${message.id}`, dataset: { messageId: message.id, type } },
      warningBody(message),
      h("div", { class: "meta" }, actions(message, view)),
    );
  }

  let body;
  if (view.editing) body = editor(message, view);
  else if (type === "image") body = imageBody(content);
  else if (type === "document") body = documentBody(content);
  else body = h("p", { class: "text" }, typeof content.body === "string" ? content.body : "");

  const edited = message.recordVersion > 0;
  return h(
    "div",
    {
      class: `msg ${view.mine ? "mine" : "theirs"} type-${type}`,
      id: `msg-${message.id}`,
      dataset: { messageId: message.id, type },
    },
    view.showSender && !view.mine ? h("div", { class: "sender" }, message.senderName || "Unknown") : null,
    h(
      "div",
      { class: "bubble" },
      message.forwarded ? h("div", { class: "forwarded" }, "↪ Forwarded") : null,
      message.replyTo?.id
        ? h(
            "button",
            {
              type: "button",
              class: "quote",
              title: "Show the original message",
              onclick: () => view.onJump?.(message.replyTo.id),
            },
            h("span", { class: "quote-label" }, "Reply to"),
            h("span", { class: "quote-text" }, message.replyTo.preview || "a message"),
          )
        : null,
      body,
    ),
    h(
      "div",
      { class: "meta" },
      h("time", { datetime: message.timestamp }, clockTime(message.timestamp)),
      edited ? h("span", { class: "edited" }, "edited") : null,
      view.seen ? h("span", { class: "seen" }, "Seen") : null,
      view.editing ? null : actions(message, view),
    ),
  );
}

function actions(message, view) {
  const buttons = [];
  if (view.canReply) buttons.push(h("button", { type: "button", onclick: () => view.onReply?.(message) }, "Reply"));
  if (view.canEdit) buttons.push(h("button", { type: "button", onclick: () => view.onEdit?.(message) }, "Edit"));
  if (view.canDelete) {
    buttons.push(
      view.confirmingDelete
        ? h(
            "span",
            { class: "confirm" },
            "Delete this message? ",
            h("button", { type: "button", class: "danger", onclick: () => view.onDelete?.(message, true) }, "Delete"),
            h("button", { type: "button", onclick: () => view.onDelete?.(message, false) }, "Keep"),
          )
        : h("button", { type: "button", onclick: () => view.onDelete?.(message, null) }, "Delete"),
    );
  }
  return buttons.length ? h("span", { class: "actions", role: "group", "aria-label": "Message actions" }, buttons) : null;
}

function editor(message, view) {
  const area = h("textarea", { class: "edit-box", "aria-label": "Edit message", rows: 3 });
  area.value = message.content?.body || "";
  const save = () => view.onSaveEdit?.(message, area.value);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      save();
    } else if (event.key === "Escape") view.onCancelEdit?.();
  });
  queueMicrotask(() => area.focus());
  return h(
    "div",
    { class: "editor" },
    area,
    h(
      "div",
      { class: "editor-buttons" },
      h("button", { type: "button", class: "primary", onclick: save }, "Save"),
      h("button", { type: "button", onclick: () => view.onCancelEdit?.() }, "Cancel"),
    ),
  );
}
