// The AWS SDK for JavaScript's Bedrock Runtime client, unmodified (its
// default NodeHttp2Handler: HTTP/2 only), against a real Meridian node.
// clients/js/sdk_test.go starts the node and sets:
//
//	MERIDIAN_ENDPOINT      the client listener (http:// for h2c, https:// for TLS)
//	AWS_REGION             the node's region
//	AWS_ACCESS_KEY_ID      a SigV4 access key of a principal
//	AWS_SECRET_ACCESS_KEY  its secret
//	NODE_EXTRA_CA_CERTS    the test CA, over TLS
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";

const endpoint = requireEnv("MERIDIAN_ENDPOINT");
const region = requireEnv("AWS_REGION");
const euRegions = ["eu-west-1", "eu-central-1"];
const profile = "eu.demo.chat-small";

function requireEnv(name) {
  const v = process.env[name];
  assert.ok(v, `${name} must be set (clients/js/sdk_test.go sets it)`);
  return v;
}

// client is the SDK's client with nothing changed but the endpoint, and,
// for the exception checks, no retries. Credentials and region come from
// the environment, as in production.
function client(extra = {}) {
  const c = new BedrockRuntimeClient({ endpoint, ...extra });
  c.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      lastHeaders = out.response.headers;
      return out;
    },
    { step: "deserialize", name: "meridianCaptureHeaders" },
  );
  return c;
}
let lastHeaders = {};

function assertEURoute(headers) {
  assert.ok(euRegions.includes(headers["x-meridian-inference-region"]),
    `x-meridian-inference-region = ${headers["x-meridian-inference-region"]}, want one of ${euRegions}`);
  assert.equal(headers["x-meridian-source-region"], region);
  assert.equal(headers["x-meridian-inference-profile"], profile);
  assert.ok(headers["x-meridian-request-id"]);
  assert.equal(headers["x-request-id"], headers["x-meridian-request-id"]);
}

test("the default request handler is HTTP/2", async () => {
  const c = new BedrockRuntimeClient({ endpoint });
  const handler = c.config.requestHandler;
  assert.equal(handler?.constructor?.name, "NodeHttp2Handler");
  assert.equal(handler.metadata.handlerProtocol, "h2");
  c.destroy();
});

test("Converse with an eu. profile is served in the EU", async () => {
  const c = client();
  const out = await c.send(new ConverseCommand({
    modelId: profile,
    system: [{ text: "be brief" }],
    messages: [{ role: "user", content: [{ text: "Where does my data go?" }] }],
    inferenceConfig: { maxTokens: 8 },
  }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.ok(out.$metadata.requestId, "no request id");
  assert.equal(out.$metadata.requestId, lastHeaders["x-meridian-request-id"]);
  assert.equal(out.output.message.role, "assistant");
  assert.ok(out.output.message.content[0].text.length > 0);
  assert.ok(out.stopReason);
  assert.ok(out.usage.outputTokens > 0);
  assert.equal(out.usage.totalTokens, out.usage.inputTokens + out.usage.outputTokens);
  assertEURoute(lastHeaders);
  c.destroy();
});

test("ConverseStream yields text and a stop", async () => {
  const c = client();
  const out = await c.send(new ConverseStreamCommand({
    modelId: profile,
    messages: [{ role: "user", content: [{ text: "stream please" }] }],
    inferenceConfig: { maxTokens: 10 },
  }));
  assertEURoute(lastHeaders);
  const kinds = [];
  let text = "";
  let stopReason = "";
  let usage;
  for await (const ev of out.stream) {
    const kind = Object.keys(ev)[0];
    if (kinds.at(-1) !== kind) kinds.push(kind);
    if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text;
    if (ev.messageStop) stopReason = ev.messageStop.stopReason;
    if (ev.metadata) usage = ev.metadata.usage;
  }
  assert.deepEqual(kinds, ["messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]);
  assert.ok(text.length > 0, "no text");
  assert.ok(["end_turn", "max_tokens"].includes(stopReason), `stopReason ${stopReason}`);
  assert.ok(usage.outputTokens > 0);
  c.destroy();
});

test("InvokeModel with an Anthropic body", async () => {
  const c = client();
  const body = JSON.stringify({
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 8,
    messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
  });
  const out = await c.send(new InvokeModelCommand({ modelId: profile, body, contentType: "application/json", accept: "application/json" }));
  assertEURoute(lastHeaders);
  const msg = JSON.parse(new TextDecoder().decode(out.body));
  assert.equal(msg.type, "message");
  assert.equal(msg.role, "assistant");
  assert.equal(msg.content[0].type, "text");
  assert.ok(msg.content[0].text.length > 0);
  assert.ok(msg.stop_reason);
  assert.ok(msg.usage.output_tokens > 0);
  c.destroy();
});

test("InvokeModelWithResponseStream yields text and a stop", async () => {
  const c = client();
  const body = JSON.stringify({
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 8,
    messages: [{ role: "user", content: "hi" }],
  });
  const out = await c.send(new InvokeModelWithResponseStreamCommand({ modelId: profile, body, contentType: "application/json" }));
  assertEURoute(lastHeaders);
  const types = [];
  let text = "";
  let stopReason = "";
  for await (const ev of out.body) {
    assert.ok(ev.chunk, `event ${Object.keys(ev)}, want chunk`);
    const e = JSON.parse(new TextDecoder().decode(ev.chunk.bytes));
    if (types.at(-1) !== e.type) types.push(e.type);
    if (e.type === "content_block_delta") text += e.delta.text;
    if (e.type === "message_delta") stopReason = e.delta.stop_reason;
  }
  assert.equal(types[0], "message_start");
  assert.equal(types.at(-1), "message_stop");
  assert.ok(types.includes("content_block_delta"));
  assert.ok(text.length > 0, "no text");
  assert.ok(stopReason, "no stop reason");
  c.destroy();
});

// expectException sends cmd and checks the SDK's typed exception.
async function expectException(c, cmd, name, status) {
  await assert.rejects(c.send(cmd), (err) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`);
    assert.equal(err.$metadata.httpStatusCode, status);
    assert.ok(err.$metadata.requestId, "exception without a request id");
    assert.ok(err.message.length > 0);
    return true;
  });
  c.destroy();
}

const hi = [{ role: "user", content: [{ text: "hi" }] }];

test("a us. profile from an EU region is a ValidationException", async () => {
  await expectException(client({ maxAttempts: 1 }), new ConverseCommand({ modelId: "us.demo.chat-small", messages: hi }), "ValidationException", 400);
});

test("an unknown access key is an UnrecognizedClientException", async () => {
  const c = client({ maxAttempts: 1, credentials: { accessKeyId: "AKIDUNKNOWNTOMERIDIAN", secretAccessKey: "nope" } });
  await expectException(c, new ConverseCommand({ modelId: profile, messages: hi }), "UnrecognizedClientException", 401);
});

test("a wrong secret is an AccessDeniedException", async () => {
  const c = client({ maxAttempts: 1, credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: "not-the-secret" } });
  await expectException(c, new ConverseCommand({ modelId: profile, messages: hi }), "AccessDeniedException", 401);
});

test("a throttled model is a ThrottlingException", async () => {
  await expectException(client({ maxAttempts: 1 }), new ConverseCommand({ modelId: "demo.throttled", messages: hi }), "ThrottlingException", 429);
});

test("a throttled stream is a ThrottlingException", async () => {
  await expectException(client({ maxAttempts: 1 }), new ConverseStreamCommand({ modelId: "demo.throttled", messages: hi }), "ThrottlingException", 429);
});

test("an unknown model is a ResourceNotFoundException", async () => {
  await expectException(client({ maxAttempts: 1 }), new ConverseCommand({ modelId: "nope.model-x", messages: hi }), "ResourceNotFoundException", 404);
});

test("a Meridian API key as a Bedrock bearer token", async () => {
  const token = requireEnv("MERIDIAN_API_KEY");
  const c = client({ token: { token }, authSchemePreference: ["httpBearerAuth"] });
  const out = await c.send(new ConverseCommand({ modelId: profile, messages: hi }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assertEURoute(lastHeaders);
  c.destroy();
  const bad = client({ maxAttempts: 1, token: { token: "mk-not-a-key" }, authSchemePreference: ["httpBearerAuth"] });
  await expectException(bad, new ConverseCommand({ modelId: profile, messages: hi }), "UnrecognizedClientException", 401);
});
