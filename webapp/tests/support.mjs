// Helpers of the browser suite: Debian's Chromium driven by playwright-core, people signed in
// through the page itself, and the control channel to the pytest harness that runs the service.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import { chromium } from "playwright-core";

export const BASE_URL = process.env.WEBAPP_BASE_URL;
export const SHOTS_DIR = process.env.WEBAPP_SHOTS_DIR || null;
const CHROMIUM = process.env.WEBAPP_CHROMIUM || "/usr/bin/chromium";
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
const WAIT_MS = 15000;

// Errors Chromium itself logs while the service is down (refused connections): not the page's.
const NETWORK_NOISE = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to .* failed|Failed to load resource/;

export async function launch() {
  assert.ok(BASE_URL, "WEBAPP_BASE_URL is not set: run this suite through pytest (tests/webapp)");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export class Person {
  constructor(context, page) {
    this.context = context;
    this.page = page;
    this.errors = [];
    this.tolerateNetworkErrors = false;
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      if (this.tolerateNetworkErrors && NETWORK_NOISE.test(message.text())) return;
      this.errors.push(message.text());
    });
    page.on("pageerror", (error) => this.errors.push(`page error: ${error.message}`));
  }

  static async open(browser, viewport = DESKTOP) {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const person = new Person(context, page);
    await page.goto(`${BASE_URL}/app/`);
    return person;
  }

  // One click on a demo user of the sign-in page.
  static async signIn(browser, name, viewport = DESKTOP) {
    const person = await Person.open(browser, viewport);
    await person.page.locator(".demo-user", { hasText: name }).click();
    await person.page.locator(".inbox").waitFor();
    await person.waitFor(() => person.page.locator(".connection.online").count(), "the hub connection");
    return person;
  }

  async close() {
    assert.deepEqual(this.errors, [], "the page logged errors to the console");
    await this.context.close();
  }

  inboxItem(name) {
    return this.page.locator(".inbox-item", { has: this.page.locator(".inbox-name", { hasText: name }) });
  }

  async inboxNames() {
    return this.page.locator(".inbox-item .inbox-name").allTextContents();
  }

  async badge(name) {
    const badge = this.inboxItem(name).locator(".badge");
    return (await badge.count()) ? Number(await badge.textContent()) : 0;
  }

  async openConversation(name) {
    await this.inboxItem(name).click();
    await this.page.locator(".conv-head h2", { hasText: name }).waitFor();
    await this.waitFor(async () => (await this.page.locator(".messages .msg").count()) > 0, `messages of ${name}`);
  }

  messages() {
    return this.page.locator(".messages .msg[data-message-id]");
  }

  message(text) {
    return this.page.locator(".messages .msg[data-message-id]", { hasText: text });
  }

  async type(text) {
    await this.page.locator("#composer-text").click();
    await this.page.keyboard.type(text);
  }

  async send(text) {
    await this.type(text);
    await this.page.keyboard.press("Enter");
  }

  async waitFor(check, what, timeout = WAIT_MS) {
    const until = Date.now() + timeout;
    let last;
    while (Date.now() < until) {
      try {
        last = await check();
        if (last) return last;
      } catch (error) {
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail(`timed out waiting for ${what} (last: ${last})`);
  }

  async shot(name) {
    if (!SHOTS_DIR) return;
    await mkdir(SHOTS_DIR, { recursive: true });
    await this.page.mouse.move(1, 1); // no hover state in the picture
    await this.page.waitForTimeout(300); // fonts and images settle
    await this.page.screenshot({ path: path.join(SHOTS_DIR, `${name}.png`) });
  }
}

// The harness (pytest) runs the service; a line "@@<command>" on stderr asks it for something and
// the next line on stdin is its answer.
const lines = readline.createInterface({ input: process.stdin });
const answers = [];
const waiting = [];
lines.on("line", (line) => (waiting.length ? waiting.shift()(line) : answers.push(line)));

export function harness(command) {
  process.stderr.write(`@@${command}\n`);
  return new Promise((resolve) => (answers.length ? resolve(answers.shift()) : waiting.push(resolve)));
}

export function closeHarness() {
  lines.close();
}
