// An OTLP/HTTP receiver for the tests: decodes what the service exports (protobuf) with the
// official opentelemetry-proto definitions, as compiled by protobufjs into npm's
// @opentelemetry/otlp-transformer (0.57: build/src/generated/root.js), not with the service's code.
//   node receiver.cjs <node_modules dir>     prints "listening <port>" once it listens on 127.0.0.1
// Exports:  POST /v1/traces, POST /v1/metrics (application/x-protobuf)
// Control:  GET /control/spans   -> [{traceId, spanId, parentSpanId, name, kind, scope, service, attributes, links, status}]
//           GET /control/metrics -> [metric names received]
const http = require("node:http");
const path = require("node:path");
const root = require(path.join(process.argv[2], "@opentelemetry", "otlp-transformer", "build", "src", "generated", "root.js"));
const proto = root.opentelemetry.proto;

const spans = [];
const metrics = new Set();

const hex = (bytes) => Buffer.from(bytes ?? []).toString("hex");
const value = (v) => {
  if (!v) return null;
  if (v.stringValue !== undefined && v.stringValue !== null && v.stringValue !== "") return v.stringValue;
  if (v.intValue !== undefined && v.intValue !== null) return String(v.intValue);
  if (v.boolValue !== undefined && v.boolValue !== null) return String(v.boolValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return String(v.doubleValue);
  if (v.arrayValue) return JSON.stringify(v.arrayValue.values.map(value));
  return v.stringValue ?? null;
};
const attributes = (list) => Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  try {
    if (req.method === "POST" && req.url === "/v1/traces") {
      const request = proto.collector.trace.v1.ExportTraceServiceRequest.decode(body);
      for (const rs of request.resourceSpans) {
        const service = attributes(rs.resource?.attributes)["service.name"];
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId),
              name: s.name, kind: s.kind, scope: ss.scope?.name ?? "", service,
              attributes: attributes(s.attributes),
              events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
              links: (s.links ?? []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
              status: s.status?.code ?? 0,
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/x-protobuf" })
        .end(Buffer.from(proto.collector.trace.v1.ExportTraceServiceResponse.encode({}).finish()));
    } else if (req.method === "POST" && req.url === "/v1/metrics") {
      const request = proto.collector.metrics.v1.ExportMetricsServiceRequest.decode(body);
      for (const rm of request.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) metrics.add(m.name);
      res.writeHead(200, { "content-type": "application/x-protobuf" })
        .end(Buffer.from(proto.collector.metrics.v1.ExportMetricsServiceResponse.encode({}).finish()));
    } else if (req.method === "POST") {
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end(); // logs: not asked for
    } else if (req.url === "/control/spans") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(spans));
    } else if (req.url === "/control/metrics") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify([...metrics]));
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    process.stderr.write(`undecodable export: ${e}\n`);
    res.writeHead(400).end();
  }
});

server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
process.stdin.on("end", () => process.exit(0)); // the test closes stdin when done
process.stdin.resume();
