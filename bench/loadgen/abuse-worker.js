// One attack of the abuse scenario on a worker thread: its own event loop, so the attacker's
// client-side work (1,000 handshakes, tens of thousands of acks) does not make the bystander's
// arrivals, timestamped on the main thread, look late. Started by abuse.js with the attack's name
// before its phase begins: the thread loads what the attack uses, posts {ready}, and waits for the
// phase's end as wall-clock time (each thread's performance.now() has its own origin); then it
// runs the attack and posts the attack's result once it has closed everything it opened.
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { ATTACKS } from "./abuse-attacks.js";
import { config } from "./abuse-lib.js";

const { name } = workerData;
// Node loads its fetch implementation on first use: ~100 ms of a core, the load generator's own
// cost, done here before the phase's clock starts instead of inside the attack's window.
void globalThis.fetch;
parentPort.once("message", ({ stopAtEpochMs }) => {
  const stopAt = stopAtEpochMs - performance.timeOrigin;
  ATTACKS[name](config[name], stopAt)
    .catch((err) => ({ failed: err.message }))
    .then((result) => parentPort.postMessage(result));
});
parentPort.postMessage({ ready: true });
