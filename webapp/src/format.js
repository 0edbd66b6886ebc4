// Formatting and the few rules the page applies to what the service sends.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const now = new Date();
  return date.toDateString() === now.toDateString() ? timeFormat.format(date) : dayFormat.format(date);
}

export function clockTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
}

export function fileSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// Links and images only to http(s) or to this site: never javascript: or other schemes.
export function safeUrl(value) {
  if (typeof value !== "string" || !value.trim()) return null;
  try {
    const url = new URL(value, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
  return letters.toUpperCase();
}

export function humanize(action) {
  const words = String(action || "").replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1).toLowerCase() : "";
}

// The inbox preview of a message, as the service computes lastMessagePreview.
export function previewOf(message) {
  const c = message?.content || {};
  switch (message?.messageType) {
    case "text":
    case "warning":
      return String(c.body || "");
    case "image":
      return "[image]";
    case "document":
      return `[document] ${c.fileName || ""}`;
    case "system":
      return String(c.systemAction || "");
    default:
      return "";
  }
}

export const SEVERITY_LABELS = { info: "Notice", warning: "Warning", critical: "Critical warning" };
export const RESOLUTION_LABELS = {
  warn: "Warning only",
  requireEdit: "Edit required",
  removeCourse: "Course removal",
  suspend: "Account suspension",
  ban: "Account ban",
};

// hub:error codes in words (the service's own sentence is used for the rest).
const ERROR_WORDS = {
  RATE_LIMITED: "You are sending messages too fast. Wait a moment, then try again.",
  SILENCED: "You have been silenced in this conversation: your message was not sent.",
  BLOCKED: "You have been blocked from this conversation.",
  ROOM_NOT_ELIGIBLE: "This conversation is closed: no new messages can be sent.",
  SEND_NOT_ALLOWED: "You cannot send messages in this conversation.",
  MESSAGE_TOO_LARGE: "This message is too long to send.",
  NOT_AUTHORIZED: "You do not have access to this conversation.",
  ROOM_NOT_FOUND: "This conversation no longer exists.",
  ROOM_FULL: "This conversation is full right now.",
  ROOM_LIMIT: "You have too many conversations open at once.",
  MODERATE_NOT_ALLOWED: "Only a super admin can block or silence people here.",
  NOT_JOINED: "Still connecting to this conversation. Try again in a moment.",
};

export function errorInWords(error) {
  if (!error) return "Something went wrong.";
  return ERROR_WORDS[error.code] || error.error || "Something went wrong.";
}

export function uuid4() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
