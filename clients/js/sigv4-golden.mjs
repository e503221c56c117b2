// Prints, as JSON, the request the AWS SDK for JavaScript signs for a
// Bedrock Runtime Converse call over HTTP/2: its signer signs :authority in
// place of host. internal/auth's tests replay it from
// internal/auth/testdata/sigv4/authority-js/request.json; regenerate with
//
//	node clients/js/sigv4-golden.mjs > internal/auth/testdata/sigv4/authority-js/request.json
import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";

class Captured extends Error {}
let captured;
const client = new BedrockRuntimeClient({
  region: "eu-west-1",
  endpoint: "https://bedrock-runtime.eu-west-1.amazonaws.com",
  credentials: { accessKeyId: "AKIDJSGOLDEN", secretAccessKey: "js-golden-secret" },
  maxAttempts: 1,
  requestHandler: {
    metadata: { handlerProtocol: "h2" },
    async handle(req) {
      captured = req;
      throw new Captured();
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() { return {}; },
  },
});
try {
  await client.send(new ConverseCommand({
    modelId: "eu.anthropic.claude-sonnet-4-20250514-v1:0",
    messages: [{ role: "user", content: [{ text: "hello" }] }],
  }));
} catch (err) {
  if (!(err instanceof Captured)) throw err;
}
const headers = { ...captured.headers };
console.log(JSON.stringify({
  method: captured.method,
  path: captured.path,
  headers,
  body: new TextDecoder().decode(captured.body),
  access_key_id: "AKIDJSGOLDEN",
  secret_access_key: "js-golden-secret",
}, null, 2));
