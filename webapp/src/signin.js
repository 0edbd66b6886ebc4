// Sign-in: a demo user in one click (development mode), or a pasted access token (any mode).
import { Api, readToken } from "./api.js";
import { avatar } from "./avatar.js";
import { clear, h } from "./dom.js";

const ROLE_NAMES = { superAdmin: "Super admin", admin: "Admin", tutor: "Tutor", student: "Student" };

export function renderSignIn(root, { message, onToken }) {
  const status = h("p", { class: "signin-status", role: "alert" }, message || "");
  status.hidden = !message;
  const demoList = h("div", { class: "demo-users", "aria-live": "polite" }, h("p", { class: "muted" }, "Looking for demo users…"));
  const tokenBox = h("textarea", { id: "token-input", rows: 4, spellcheck: "false", autocomplete: "off", placeholder: "eyJhbGciOi…" });
  const fail = (text) => {
    status.textContent = text;
    status.hidden = false;
  };
  const tryToken = async (token) => {
    const me = readToken(token);
    if (!me) return fail("That is not an access token (a JWT with a userId).");
    if (me.exp && me.exp * 1000 < Date.now()) return fail("This access token has expired.");
    try {
      await new Api(token.trim()).myConversations();
    } catch (error) {
      return fail(error.status === 401 ? "The service did not accept this access token." : error.message);
    }
    onToken(token.trim().replace(/^Bearer\s+/i, ""), me);
  };
  const demoSection = h(
    "section",
    { class: "signin-card", "aria-labelledby": "demo-title" },
    h("h2", { id: "demo-title" }, "Demo users"),
    demoList,
  );
  const tokenSection = h(
    "section",
    { class: "signin-card", "aria-labelledby": "token-title" },
    h("h2", { id: "token-title" }, "Access token"),
    h(
      "form",
      {
        class: "token-form",
        onsubmit: (event) => {
          event.preventDefault();
          tryToken(tokenBox.value);
        },
      },
      h("label", { for: "token-input" }, "Paste a TutorHub access token"),
      tokenBox,
      h("button", { type: "submit", class: "primary" }, "Sign in"),
    ),
  );
  clear(root).appendChild(
    h(
      "main",
      { class: "signin" },
      h("h1", { class: "brand" }, "TutorHub ", h("span", {}, "Messages")),
      h("p", { class: "muted" }, "Chat between students, tutors and admins."),
      status,
      demoSection,
      tokenSection,
    ),
  );

  Api.demoUsers()
    .then((data) => {
      if (data === null) {
        demoSection.remove(); // production mode: no demo sign-in
        return;
      }
      if (!data.users.length) {
        demoList.replaceChildren(h("p", { class: "muted" }, data.hint || "No demo users."));
        return;
      }
      demoList.replaceChildren(
        ...data.users.map((user) =>
          h(
            "button",
            {
              type: "button",
              class: "demo-user",
              dataset: { role: user.role },
              onclick: () => tryToken(user.token),
            },
            avatar(user.fullname, user.avatar),
            h("span", { class: "demo-name" }, user.fullname),
            h("span", { class: "role-chip" }, ROLE_NAMES[user.role] || user.role),
          ),
        ),
      );
    })
    .catch(() => demoList.replaceChildren(h("p", { class: "muted" }, "Demo users are not available.")));
}
