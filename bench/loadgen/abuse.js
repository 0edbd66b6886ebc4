// Abuse scenario of the messaging benchmarks: a bystander pair's latency, calm and under attack.
//
//   node abuse.js <config.json>
//
// Two bystander sockets (the two participants of their own room) send hub:send at a modest steady
// rate for the whole run; latency is send -> hub:messageArrived at the other participant. Each
// attack runs on a worker thread (abuse-worker.js), so its client-side work does not delay the
// bystander's own event loop (ABUSE_ATTACKS_ON_MAIN_THREAD=1 runs it beside the bystander, as
// runs before 2026-11-30 08:10 UTC did). The run
// is a sequence of phases: "calm" (no attack), then one attack per phase. Each phase prints
// {"type": "phaseStart"} and waits for a line on stdin (the orchestrator reads the server's memory
// and metrics meanwhile), runs the attack and the bystander together for a fixed window, stops the
// attack and closes everything it opened, waits (bounded) for the bystander's last messages and
// prints {"type": "phaseEnd", bystander, attack}. Every loop stops at the window's end, every wait
// has a deadline, and the process exits on its own when its phases are done.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { ATTACKS } from "./abuse-attacks.js";
import { closeAll, config, connect, emit, join, now, sleep, summary, waitForLine, withDeadline } from "./abuse-lib.js";

// --- the bystander pair ---------------------------------------------------------------------------

class Bystander {
  constructor(sockets, roomId) {
    this.sockets = sockets;
    this.roomId = roomId;
    this.phase = null;
    sockets.forEach((socket, index) => {
      socket.on("hub:error", () => {
        if (this.phase) this.phase.errors += 1;
      });
      socket.on("disconnect", () => {
        if (this.phase) this.phase.disconnects += 1;
      });
      socket.on("hub:messageArrived", ({ message }) => {
        const at = now();
        const parts = String(message?.content?.body ?? "").split(" ");
        const phase = this.phase;
        if (parts[0] !== "x" || phase === null || Number(parts[1]) !== phase.index) return;
        if (Number(parts[3]) === index) return; // the sender's own copy
        phase.arrived += 1;
        phase.latencies.push(at - Number(parts[2]));
        phase.timeline.push([Number(parts[2]) - phase.started, at - Number(parts[2])]);
      });
    });
  }

  // Open loop at a steady rate, alternating senders, until `stopAt`.
  async send(index, rate, stopAt) {
    const started = now();
    this.phase = { index, started, sent: 0, arrived: 0, latencies: [], timeline: [], errors: 0, disconnects: 0 };
    const phase = this.phase;
    // How late this process's own event loop ran while the bystander sent: the arrivals it
    // timestamps are that late too, whatever the service did.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const t = now();
        const due = Math.floor(((Math.min(t, stopAt) - started) / 1000) * rate);
        while (phase.sent < due) {
          const sender = phase.sent % 2;
          this.sockets[sender].emit("hub:send", {
            roomId: this.roomId,
            messageType: "text",
            content: { body: `x ${index} ${now().toFixed(3)} ${sender}` },
          });
          phase.sent += 1;
        }
        if (t >= stopAt) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    loop.disable();
    phase.loopDelay = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
  }

  async drain(seconds) {
    const until = now() + seconds * 1000;
    while (this.phase.arrived < this.phase.sent && now() < until) await sleep(20);
    const phase = this.phase;
    this.phase = null;
    return {
      sent: phase.sent,
      arrived: phase.arrived,
      lost: phase.sent - phase.arrived,
      errors: phase.errors,
      disconnects: phase.disconnects,
      latency: summary(phase.latencies),
      loopDelay: phase.loopDelay,
      // The slowest messages: [ms from the phase's start to the send, latency ms].
      slowest: phase.timeline.sort((a, b) => b[1] - a[1]).slice(0, 5),
    };
  }
}


// The attack on a thread of its own (see abuse-worker.js), started ahead of its phase: resolves
// once the thread has loaded everything, to a function that starts the attack (given the phase's
// end) and resolves to its result. Starting a thread (a V8 isolate and its modules) takes a core
// for ~100 ms on this machine: that is the load generator's cost, kept out of the phase.
function prepareAttackWorker(name) {
  const worker = new Worker(new URL("./abuse-worker.js", import.meta.url), {
    argv: process.argv.slice(2),
    workerData: { name },
  });
  let settle;
  const result = new Promise((resolve) => {
    settle = resolve;
  });
  worker.once("error", (err) => settle({ failed: err.message }));
  worker.once("exit", (code) => settle({ failed: `the attack's thread exited (${code})` }));
  return new Promise((ready) => {
    worker.once("message", () => {
      worker.once("message", (attackResult) => {
        worker.terminate();
        settle(attackResult);
      });
      ready((stopAt) => {
        worker.postMessage({ stopAtEpochMs: performance.timeOrigin + stopAt });
        return result;
      });
    });
    // A thread that fails before it is ready: the phase runs without its attack, reported failed.
    result.then((failure) => ready(() => Promise.resolve(failure)));
  });
}

// --- the run --------------------------------------------------------------------------------------

async function main() {
  const b = config.bystander;
  const sockets = [await connect(b.tokens[0]), await connect(b.tokens[1])];
  for (const socket of sockets) await join(socket, b.roomId);
  const bystander = new Bystander(sockets, b.roomId);
  emit({ type: "ready" });

  const phases = [{ name: "calm", seconds: config.calmSeconds }];
  for (const name of config.attacks) phases.push({ name, seconds: config.attackSeconds });
  for (const [index, phase] of phases.entries()) {
    const attack = ATTACKS[phase.name];
    const onMainThread = Boolean(process.env.ABUSE_ATTACKS_ON_MAIN_THREAD);
    const startOnWorker = attack && !onMainThread ? await prepareAttackWorker(phase.name) : null;
    emit({ type: "phaseStart", name: phase.name });
    await waitForLine();
    const stopAt = now() + phase.seconds * 1000;
    const attackRun = !attack
      ? Promise.resolve(null)
      : onMainThread
        ? attack(config[phase.name], stopAt).catch((err) => ({ failed: err.message }))
        : startOnWorker(stopAt);
    await bystander.send(index, b.rate, stopAt);
    // Every attack ends at stopAt; its last waits are bounded by `budget` (at most ~12 s more).
    const attackResult = await withDeadline(attackRun, 60000, `attack ${phase.name}`).catch((err) => ({
      failed: err.message,
    }));
    const result = await bystander.drain(config.drainSeconds);
    emit({ type: "phaseEnd", name: phase.name, seconds: phase.seconds, bystander: result, attack: attackResult });
    await sleep(config.cooldownSeconds * 1000);
  }
  closeAll(sockets);
  emit({ type: "done" });
}

// A hard ceiling on the whole run, whatever happens.
setTimeout(() => {
  console.error("abuse load generator: time limit reached");
  process.exit(3);
}, (config.timeLimitSeconds ?? 900) * 1000).unref();
main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(`abuse load generator failed: ${err.message}`);
    process.exit(1);
  });
