// One attack of the abuse scenario on a worker thread: its own event loop, so the attacker's
// client-side work (1,000 handshakes, tens of thousands of acks) does not make the bystander's
// arrivals, timestamped on the main thread, look late. Started by abuse.js with the attack's name
// and its end as wall-clock time (each thread's performance.now() has its own origin); posts the
// attack's result once the attack has closed everything it opened.
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { ATTACKS } from "./abuse-attacks.js";
import { config } from "./abuse-lib.js";

const { name, stopAtEpochMs } = workerData;
const stopAt = stopAtEpochMs - performance.timeOrigin;
ATTACKS[name](config[name], stopAt)
  .catch((err) => ({ failed: err.message }))
  .then((result) => parentPort.postMessage(result));
