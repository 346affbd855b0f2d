// A webhook receiver for the tests: verifies every delivery with the Standard Webhooks reference
// library for JavaScript (npm "standardwebhooks"), which nobody here wrote, and keeps what came.
//   node receiver.cjs <node_modules dir>     prints "listening <port>" once it listens on 127.0.0.1
// Control (JSON): PUT /control/<name> {"secret": "whsec_...", "failures": N, "status": 500, "retryAfter": s, "mode": "ok"|"hang"|"gone", "delay": ms}
//                 (any subset: what is left out stays as it was)
//                 GET /control/<name>  -> [{id, timestamp, verified, error, body, answered, at}] in order of arrival (at: ms since the epoch)
// Deliveries:     POST /hooks/<name>
const http = require("node:http");
const path = require("node:path");
const { Webhook } = require(path.join(process.argv[2], "standardwebhooks"));

const receivers = new Map(); // name -> { secret, failures, status, mode, received: [] }
const hanging = new Set();

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const server = http.createServer(async (req, res) => {
  const [, area, name] = req.url.split("/");
  const body = await readBody(req);
  if (area === "control") {
    if (req.method === "PUT") {
      const settings = JSON.parse(body);
      receivers.set(name, { failures: 0, status: 500, retryAfter: null, mode: "ok", delay: 0, received: [], ...receivers.get(name), ...settings });
      res.writeHead(204).end();
    } else {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(receivers.get(name)?.received ?? []));
    }
    return;
  }

  const receiver = receivers.get(name);
  if (area !== "hooks" || !receiver) {
    res.writeHead(404).end();
    return;
  }

  const delivery = { id: req.headers["webhook-id"], timestamp: req.headers["webhook-timestamp"], verified: false, error: null, body: null, answered: 0, at: Date.now() };
  try {
    delivery.body = new Webhook(receiver.secret).verify(body, req.headers);
    delivery.verified = true;
  } catch (e) {
    delivery.error = String(e && e.message ? e.message : e);
    try { delivery.body = JSON.parse(body); } catch { /* not JSON */ }
  }
  receiver.received.push(delivery);

  if (receiver.mode === "hang") {
    hanging.add(res);
    return;
  }
  if (receiver.mode === "gone") {
    delivery.answered = 410;
    res.writeHead(410).end();
    return;
  }
  if (receiver.delay > 0) {
    await new Promise((resolve) => setTimeout(resolve, receiver.delay)); // a slow receiver
  }
  if (receiver.failures > 0) {
    receiver.failures--;
    delivery.answered = receiver.status;
    res.writeHead(receiver.status, receiver.retryAfter === null ? {} : { "retry-after": String(receiver.retryAfter) }).end("not now");
    return;
  }
  delivery.answered = delivery.verified ? 200 : 401;
  res.writeHead(delivery.answered).end();
});

server.keepAliveTimeout = 30000;
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
process.stdin.on("end", () => { for (const res of hanging) res.destroy(); server.close(); process.exit(0); });
process.stdin.resume();
