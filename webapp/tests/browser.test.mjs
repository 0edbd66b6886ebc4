// The web client in a real browser against a real service (started by tests/webapp in pytest).
// The scenarios run in order on one seeded demo: each starts from what the previous one left.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { closeHarness, DESKTOP, harness, launch, Person, PHONE } from "./support.mjs";

const NOTIFICATION_NOTICE = "This is a notification channel. You cannot reply.";
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
  closeHarness();
});

function amber(color) {
  const [r, g, b] = color.match(/\d+/g).map(Number);
  return r >= 240 && g >= 190 && g <= 250 && b <= 225 && b < g - 15;
}

test("screens: inbox, every bubble type and the admin view, at desktop and phone widths", async () => {
  for (const [suffix, viewport] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ]) {
    const sam = await Person.signIn(browser, "Sam Rivera", viewport);
    assert.deepEqual(await sam.inboxNames(), ["Tara Okafor", "Ada Moreno"]);
    await sam.inboxItem("Ada Moreno").locator(".label", { hasText: "Admin Notice" }).waitFor();
    assert.ok((await sam.badge("Ada Moreno")) > 0, "unread badges");
    if (suffix === "desktop") {
      // Side by side on a desktop: the inbox next to the open chat.
      await sam.openConversation("Tara Okafor");
      await sam.page.locator(".msg[data-type=image] img").evaluate((img) => img.decode());
    }
    await sam.shot(`inbox-${suffix}`);
    await sam.close();

    const tara = await Person.signIn(browser, "Tara Okafor", viewport);
    await tara.inboxItem("Ada Moreno").locator(".label", { hasText: "Admin" }).waitFor();
    await tara.openConversation("Ada Moreno");
    for (const type of ["text", "image", "document", "system", "warning"]) {
      assert.ok(await tara.page.locator(`.messages .msg[data-type=${type}]`).count(), `a ${type} bubble`);
    }
    assert.equal(await tara.page.locator(".messages .quote").count(), 1, "a reply quote");
    assert.equal(await tara.page.locator(".messages .forwarded").count(), 1, "a forwarded mark");
    const image = tara.page.locator(".msg[data-type=image] img");
    await tara.waitFor(() => image.evaluate((img) => img.complete && img.naturalWidth > 0), "the image to load");
    if (suffix === "phone") {
      assert.ok(await tara.page.locator(".sidebar").isHidden(), "one pane at a time on a phone");
      await tara.page.locator(".messages").evaluate((el) => el.scrollTo(0, el.scrollHeight / 2));
    } else {
      await tara.page.locator(".messages").evaluate((el) => el.scrollTo(0, 0));
    }
    await tara.shot(`conversation-${suffix}`);
    if (suffix === "phone") {
      await tara.page.getByRole("link", { name: "Back to the inbox" }).click();
      await tara.page.locator(".sidebar").waitFor();
      assert.ok(await tara.page.locator(".conversation").isHidden());
    }
    await tara.close();

    const max = await Person.signIn(browser, "Max Keller", viewport);
    await max.page.locator("summary", { hasText: "Moderate other conversations" }).click();
    await max.page.locator(".other-item", { hasText: "Sam Rivera & Tara Okafor" }).click();
    await max.waitFor(async () => (await max.messages().count()) > 0, "the moderated conversation");
    await max.page.getByRole("button", { name: "Moderate" }).click();
    await max.page.locator("#composer-kind").selectOption("warning");
    await max.page.locator("#mod-reason").fill("Off-topic messages");
    await max.shot(`admin-${suffix}`);
    await max.close();
  }
});

test("an admin's warning reorders the student's inbox and shows as an amber alert in a read-only channel", async () => {
  const sam = await Person.signIn(browser, "Sam Rivera");
  assert.equal((await sam.inboxNames())[0], "Tara Okafor");
  const before = await sam.badge("Ada Moreno");

  const ada = await Person.signIn(browser, "Ada Moreno");
  await ada.openConversation("Sam Rivera");
  await ada.page.locator("#composer-kind").selectOption("warning");
  await ada.page.locator("#composer-severity").selectOption("critical");
  await ada.page.locator("#composer-resolution").selectOption("suspend");
  await ada.send("Third reported no-show: your account is under review.");
  await ada.message("Third reported no-show").waitFor();

  await sam.waitFor(async () => (await sam.inboxNames())[0] === "Ada Moreno", "the warning's conversation on top");
  await sam.waitFor(async () => (await sam.badge("Ada Moreno")) === before + 1, "the unread badge to rise");
  await sam.openConversation("Ada Moreno");
  await sam.waitFor(async () => (await sam.badge("Ada Moreno")) === 0, "the badge to clear");

  const warning = sam.message("Third reported no-show");
  const alert = warning.locator(".alert");
  assert.ok(amber(await alert.evaluate((el) => getComputedStyle(el).backgroundColor)), "amber background");
  assert.equal(await alert.locator(".severity").textContent(), "critical");
  assert.equal(await alert.locator(".resolution").textContent(), "Resolution: Account suspension");
  assert.equal(await sam.page.locator(".room-notice").textContent(), NOTIFICATION_NOTICE);
  assert.ok(await sam.page.locator(".composer").isHidden(), "no composer for the student");
  assert.equal(await sam.page.locator("#composer-text").isVisible(), false);

  // An admin opens a channel with someone new by their user id.
  const newcomer = crypto.randomUUID();
  await ada.page.locator("summary", { hasText: "Start an admin conversation" }).click();
  await ada.page.getByLabel("Channel").selectOption("adminTutor");
  await ada.page.getByLabel("User", { exact: true }).fill(newcomer);
  await ada.page.getByLabel("Name", { exact: true }).fill("Nia Newton");
  await ada.page.getByRole("button", { name: "Start conversation" }).click();
  await ada.page.locator(".conv-head h2", { hasText: "Nia Newton" }).waitFor();
  await ada.inboxItem("Nia Newton").locator(".label", { hasText: "Admin" }).waitFor();
  await ada.send("Welcome to TutorHub, Nia!");
  await ada.message("Welcome to TutorHub, Nia!").waitFor();
  assert.equal((await ada.inboxNames())[0], "Nia Newton");
  await ada.close();
  await sam.close();
});

test("a student and a tutor chat: both sides, inbox order, badge, typing, Seen, edits and deletes", async () => {
  const sam = await Person.signIn(browser, "Sam Rivera");
  await sam.openConversation("Ada Moreno");
  assert.deepEqual(await sam.inboxNames(), ["Ada Moreno", "Tara Okafor"]);
  const tara = await Person.signIn(browser, "Tara Okafor");
  await tara.openConversation("Sam Rivera");

  const unread = await sam.badge("Tara Okafor");
  await tara.send("Hi Sam, ready for Thursday?");
  await tara.page.locator(".msg.mine", { hasText: "Hi Sam, ready for Thursday?" }).waitFor();
  await sam.waitFor(async () => (await sam.inboxNames())[0] === "Tara Okafor", "the chat on top of the inbox");
  await sam.waitFor(async () => (await sam.badge("Tara Okafor")) === unread + 1, "the unread badge to rise");
  await sam.openConversation("Tara Okafor");
  await sam.page.locator(".msg.theirs", { hasText: "Hi Sam, ready for Thursday?" }).waitFor();
  assert.equal(await sam.badge("Tara Okafor"), 0);
  await tara.message("Hi Sam, ready for Thursday?").locator(".seen", { hasText: "Seen" }).waitFor();

  await sam.page.locator(".conv-head .presence", { hasText: "Online" }).waitFor();

  // A reply from the composer: the quote leads back to the original.
  const question = sam.message("Hi Sam, ready for Thursday?");
  await question.hover();
  await question.getByRole("button", { name: "Reply" }).click();
  await sam.page.locator(".reply-bar", { hasText: "Replying to Tara Okafor" }).waitFor();
  await sam.send("Almost: one question first.");
  const quote = tara.message("Almost: one question first.").locator(".quote");
  await quote.waitFor();
  assert.equal(await quote.locator(".quote-text").textContent(), "Hi Sam, ready for Thursday?");
  await quote.click();
  await tara.page.locator(".msg.flash", { hasText: "Hi Sam, ready for Thursday?" }).waitFor();

  await sam.type("Yes");
  await tara.page.locator(".typing-line", { hasText: "Sam Rivera is typing…" }).waitFor();
  await sam.page.keyboard.type("! See you then.");
  await sam.page.keyboard.press("Enter");
  await tara.page.locator(".msg.theirs", { hasText: "Yes! See you then." }).waitFor();
  await sam.page.locator(".msg.mine", { hasText: "Yes! See you then." }).waitFor();
  await tara.waitFor(async () => (await tara.page.locator(".typing-line").textContent()) === "", "typing to stop");
  await sam.message("Yes! See you then.").locator(".seen").waitFor();
  assert.equal(await sam.page.locator(".messages .seen").count(), 1, "Seen only under the last read message");

  // Shift+Enter is a new line; Enter sends.
  await tara.type("Line one");
  await tara.page.keyboard.press("Shift+Enter");
  await tara.page.keyboard.type("Line two");
  await tara.page.keyboard.press("Enter");
  const twoLines = sam.message("Line one").locator(".text");
  await twoLines.waitFor();
  assert.equal(await twoLines.textContent(), "Line one\nLine two");

  // Message text is shown as text, never parsed as HTML.
  const markup = '<img src=x onerror="window.__injected=1"><b>bold</b>';
  await tara.send(markup);
  const shown = sam.message("<b>bold</b>");
  await shown.waitFor();
  assert.equal(await shown.locator(".text").textContent(), markup);
  assert.equal(await shown.locator("b, img").count(), 0);
  assert.equal(await sam.page.evaluate(() => window.__injected), undefined);

  // Edits and deletes reach the other side live.
  const mine = sam.message("Yes! See you then.");
  await mine.hover();
  await mine.getByRole("button", { name: "Edit" }).click();
  await sam.page.getByLabel("Edit message").fill("Yes! See you on Thursday.");
  await sam.page.getByLabel("Edit message").press("Enter");
  await tara.message("Yes! See you on Thursday.").locator(".edited").waitFor();
  const html = tara.message("<b>bold</b>");
  await html.hover();
  await html.getByRole("button", { name: "Delete" }).click();
  await html.getByRole("button", { name: "Delete" }).click();
  await sam.waitFor(async () => (await sam.message("<b>bold</b>").count()) === 0, "the deleted message to go");
  await tara.close();
  await sam.close();
});

test("a super admin silences the tutor, whose send is refused in words, then lifts it", async () => {
  const tara = await Person.signIn(browser, "Tara Okafor");
  await tara.openConversation("Sam Rivera");
  const max = await Person.signIn(browser, "Max Keller");
  await max.page.locator("summary", { hasText: "Moderate other conversations" }).click();
  await max.page.locator(".other-item", { hasText: "Sam Rivera & Tara Okafor" }).click();
  await max.waitFor(async () => (await max.messages().count()) > 0, "the conversation");
  await max.page.getByRole("button", { name: "Moderate" }).click();
  await max.page.getByLabel("Person").selectOption({ label: "Tara Okafor" });
  await max.page.getByLabel("For").selectOption({ label: "10 minutes" });
  await max.page.getByLabel("Reason").fill("Please take a short break");
  await max.page.getByRole("button", { name: "Silence", exact: true }).click();
  await max.page.locator(".moderation .form-status", { hasText: "Tara Okafor is silenced for 10 minutes." }).waitFor();

  await tara.page.locator(".room-notice", { hasText: "You have been silenced in this conversation: Please take a short break." }).waitFor();
  await tara.send("Can you hear me?");
  await tara.page.locator(".room-error", { hasText: "You have been silenced in this conversation: your message was not sent." }).waitFor();
  await tara.waitFor(
    async () => (await tara.page.locator("#composer-text").inputValue()) === "Can you hear me?",
    "the refused draft to come back",
  );
  assert.equal(await max.message("Can you hear me?").count(), 0);

  await max.page.getByRole("button", { name: "Lift silence" }).click();
  await max.page.locator(".moderation .form-status", { hasText: "Tara Okafor may send messages again." }).waitFor();
  await tara.waitFor(() => tara.page.locator(".room-notice").isHidden(), "the silence notice to go");
  await tara.page.locator("#composer-text").fill("");
  await tara.send("Thanks, I am back.");
  await max.message("Thanks, I am back.").waitFor();
  assert.ok(await tara.page.locator(".room-error").isHidden(), "the refusal is cleared once a send succeeds");

  await max.page.getByLabel("Reason").fill("Repeated spam");
  await max.page.getByRole("button", { name: "Block", exact: true }).click();
  await max.page.locator(".moderation .form-status", { hasText: "Tara Okafor is blocked for 10 minutes." }).waitFor();
  await tara.page.locator(".room-notice", { hasText: "You have been blocked from this conversation: Repeated spam" }).waitFor();
  assert.ok(await tara.page.locator(".composer").isHidden(), "no composer while blocked");
  await max.page.getByRole("button", { name: "Lift block" }).click();
  await max.page.locator(".moderation .form-status", { hasText: "Tara Okafor may join again." }).waitFor();
  await tara.waitFor(() => tara.page.locator(".composer").isVisible(), "the composer to come back");
  await tara.send("Back again.");
  await max.message("Back again.").waitFor();
  await max.close();
  await tara.close();
});

test("a restarted server: Reconnecting…, then every message exactly once; an expired token leads to sign-in", async () => {
  const sam = await Person.signIn(browser, "Sam Rivera");
  await sam.openConversation("Tara Okafor");
  const tara = await Person.signIn(browser, "Tara Okafor");
  await tara.openConversation("Sam Rivera");
  const shortToken = await harness("short-token");
  const brief = await Person.open(browser);
  await brief.page.getByLabel("Paste a TutorHub access token").fill(shortToken);
  await brief.page.getByRole("button", { name: "Sign in" }).click();
  await brief.waitFor(() => brief.page.locator(".connection.online").count(), "the hub connection");

  await sam.send("Before the restart");
  await tara.message("Before the restart").waitFor();
  for (const person of [sam, tara, brief]) person.tolerateNetworkErrors = true;

  assert.equal(await harness("stop"), "stopped");
  for (const person of [sam, tara]) {
    await person.page.locator(".connection", { hasText: "Reconnecting…" }).waitFor();
  }
  const gap = JSON.parse(await harness("start"));
  assert.equal(gap.length, 2);

  for (const person of [sam, tara]) {
    await person.waitFor(() => person.page.locator(".connection.online").count(), "the reconnection", 30000);
    for (const text of [...gap, "Before the restart"]) {
      await person.message(text).first().waitFor();
      assert.equal(await person.message(text).count(), 1, `"${text}" shown once`);
    }
    const ids = await person.messages().evaluateAll((els) => els.map((el) => el.dataset.messageId));
    assert.equal(new Set(ids).size, ids.length, "no message twice");
  }
  await sam.send("After the restart");
  await tara.message("After the restart").waitFor();
  assert.equal(await tara.message("After the restart").count(), 1);

  await brief.page.locator(".signin-status", { hasText: "Your session has expired. Sign in again." }).waitFor({ timeout: 30000 });
  await brief.page.locator(".token-form").waitFor();
  for (const person of [sam, tara, brief]) await person.close();
});

test("older messages load on scroll-up, each once", async () => {
  const count = Number(await harness("long-history"));
  const sam = await Person.signIn(browser, "Sam Rivera");
  await sam.openConversation("Ada Moreno");
  await sam.message(`Notice ${count} of ${count}`).waitFor();
  assert.equal(await sam.messages().count(), 50, "one page of history on join");
  await sam.page.getByRole("button", { name: "Load older messages" }).waitFor();
  assert.equal(await sam.message("Welcome to TutorHub!").count(), 0);

  // Scrolling to the top fetches older pages until the start of the conversation.
  await sam.waitFor(async () => {
    await sam.page.locator(".messages").evaluate((el) => el.scrollTo(0, 0));
    return sam.page.locator(".history-start", { hasText: "Start of the conversation" }).count();
  }, "the start of the conversation");
  await sam.message("Welcome to TutorHub!").waitFor();
  const ids = await sam.messages().evaluateAll((els) => els.map((el) => el.dataset.messageId));
  assert.equal(new Set(ids).size, ids.length, "no message twice");
  assert.ok(ids.length >= count + 3, `all ${ids.length} messages`);
  for (const number of [1, Math.floor(count / 2), count]) {
    assert.equal(await sam.message(`Notice ${number} of ${count}`).count(), 1);
  }
  await sam.close();
});
