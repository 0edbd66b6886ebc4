import "./style.css";
import { readToken } from "./api.js";
import { Session } from "./session.js";
import { renderSignIn } from "./signin.js";
import { ChatPage } from "./ui.js";

const TOKEN_KEY = "tutorhub-messaging-token";
const root = document.getElementById("app");
let page = null;
let session = null;

function signIn(message) {
  page?.destroy();
  session?.stop();
  page = null;
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  document.title = "TutorHub Messages";
  renderSignIn(root, { message, onToken: start });
}

async function start(token, me) {
  sessionStorage.setItem(TOKEN_KEY, token);
  session = new Session(token, me);
  session.onSignedOut = (message) => signIn(message);
  try {
    await session.start();
  } catch (error) {
    signIn(error.status === 401 ? "Your session has expired. Sign in again." : error.message);
    return;
  }
  page = new ChatPage(root, session, () => signIn());
}

const saved = sessionStorage.getItem(TOKEN_KEY);
const me = saved ? readToken(saved) : null;
if (saved && me && !(me.exp && me.exp * 1000 < Date.now())) start(saved, me);
else signIn(saved ? "Your session has expired. Sign in again." : "");
