// The service's public REST routes, at this page's own origin (with or without /messaging-api).

export const PREFIX = location.pathname.startsWith("/messaging-api/") ? "/messaging-api" : "";

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
    this.onUnauthorized = null;
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(PREFIX + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "The service cannot be reached.", "NETWORK");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      // REST envelope errors carry detail/message; hub routes carry error/code.
      const message = data?.error || data?.detail || data?.message || `Request failed (${response.status})`;
      const error = new ApiError(response.status, message, data?.code || data?.message);
      if (response.status === 401 && this.onUnauthorized) this.onUnauthorized(error);
      throw error;
    }
    return data;
  }

  myConversations() {
    return this.request("GET", "/v1/myconversations?pageNumber=0");
  }

  conversation(id) {
    return this.request("GET", `/v1/conversations/${encodeURIComponent(id)}`);
  }

  createConversation(body) {
    return this.request("POST", "/v1/conversations", body);
  }

  roomMessages(roomId, { limit = 50, offset = 0 } = {}) {
    return this.request("GET", `/chat/${encodeURIComponent(roomId)}/messages?limit=${limit}&offset=${offset}`);
  }

  deleteRoomMessage(roomId, messageId) {
    return this.request("DELETE", `/chat/${encodeURIComponent(roomId)}/messages/${encodeURIComponent(messageId)}`);
  }

  editMessage(messageId, content) {
    return this.request("PATCH", `/v1/v1/chat-messages/${encodeURIComponent(messageId)}`, { content });
  }

  recentMessages(rows = 100) {
    return this.request("GET", `/v1/v1/chat-messages?pageNumber=1&pageRowCount=${rows}`);
  }

  static async demoUsers() {
    const response = await fetch(`${PREFIX}/dev/demo-users`, { headers: { Accept: "application/json" } });
    if (response.status === 404) return null; // production: no demo sign-in
    if (!response.ok) throw new ApiError(response.status, "Demo users are not available.");
    return response.json();
  }
}

// The claims a page needs from its own token (the service checks the signature, not this page).
export function readToken(token) {
  const parts = String(token || "").trim().replace(/^Bearer\s+/i, "").split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "="));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    const id = String(claims.userId || claims.sub || "").toLowerCase();
    if (!id) return null;
    const raw = Array.isArray(claims.roleId) ? claims.roleId : String(claims.roleId || "").split(",");
    const roles = raw.map((r) => String(r).trim()).filter(Boolean);
    const role = ["superAdmin", "admin", "tutor", "student"].find((r) => roles.includes(r)) || roles[0] || "user";
    return {
      id,
      roles,
      role,
      fullname: claims.fullname || null,
      avatar: claims.avatar || null,
      exp: typeof claims.exp === "number" ? claims.exp : null,
    };
  } catch {
    return null;
  }
}
