// The openai npm package, unmodified, against a real Meridian node:
// the Responses API (streamed and not) and embeddings (float and base64).
// clients/js/openai_test.go starts the node and sets:
//
//	MERIDIAN_ENDPOINT  the client listener
//	MERIDIAN_API_KEY   an API key of a principal
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const endpoint = requireEnv("MERIDIAN_ENDPOINT");
const apiKey = requireEnv("MERIDIAN_API_KEY");
const profile = "eu.demo.chat-small";
// Embeddings go to an embedding model: the chat model, as in the demo, does not embed.
const embedProfile = "eu.demo.embed";
const client = new OpenAI({ baseURL: endpoint + "/v1", apiKey, maxRetries: 0 });

function requireEnv(name) {
  const v = process.env[name];
  assert.ok(v, `${name} must be set (clients/js/openai_test.go sets it)`);
  return v;
}

test("responses.create", async () => {
  const r = await client.responses.create({ model: profile, instructions: "Be brief.", input: "Say hello." });
  assert.equal(r.object, "response");
  assert.equal(r.status, "completed");
  assert.equal(r.model, profile);
  assert.ok(r.id.startsWith("resp_"), r.id);
  assert.ok(r.output_text.length > 0, "no output text");
  assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, JSON.stringify(r.usage));
});

test("responses.create streamed", async () => {
  const stream = await client.responses.create({ model: profile, input: "Say hello.", stream: true });
  const types = [];
  let text = "";
  let completed;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === "response.output_text.delta") text += ev.delta;
    if (ev.type === "response.completed") completed = ev.response;
  }
  assert.equal(types[0], "response.created");
  assert.equal(types.at(-1), "response.completed");
  assert.ok(text.length > 0, "no text deltas");
  assert.equal(completed.output_text ?? completed.output[0].content[0].text, text);
  assert.ok(completed.usage.output_tokens > 0);
});

test("responses.create refuses previous_response_id", async () => {
  await assert.rejects(
    client.responses.create({ model: profile, input: "hi", previous_response_id: "resp_0" }),
    (err) => err.status === 400 && err.param === "previous_response_id",
  );
});

test("embeddings.create float", async () => {
  const r = await client.embeddings.create({ model: embedProfile, input: ["hello", "world"], encoding_format: "float" });
  assert.equal(r.data.length, 2);
  for (const d of r.data) {
    assert.equal(d.embedding.length, 1536);
    const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  }
  assert.ok(r.usage.prompt_tokens > 0);
});

test("embeddings.create base64 with dimensions", async () => {
  // The package asks for base64 by default and decodes it into floats.
  const r = await client.embeddings.create({ model: embedProfile, input: "hello", dimensions: 256 });
  assert.equal(r.data.length, 1);
  assert.equal(r.data[0].embedding.length, 256);
  const norm = Math.sqrt(r.data[0].embedding.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
});

test("embeddings.create for a chat model is refused", async () => {
  await assert.rejects(
    client.embeddings.create({ model: profile, input: "hello", encoding_format: "float" }),
    (err) => err.status === 400,
  );
});
