// Converse with a Meridian node through the AWS SDK for JavaScript, unmodified.
// AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as for AWS;
// MERIDIAN_ENDPOINT is the node's client listener (the demo's eu-west-1 by default).
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from "@aws-sdk/client-bedrock-runtime";

const rt = new BedrockRuntimeClient({ endpoint: process.env.MERIDIAN_ENDPOINT ?? "http://127.0.0.1:8082" });

// Where did it run? Meridian's headers are on the raw response.
let servedIn;
rt.middlewareStack.add((next) => async (args) => {
  const out = await next(args);
  servedIn = out.response.headers["x-meridian-inference-region"];
  return out;
}, { step: "deserialize", name: "meridianInferenceRegion" });

const messages = [{ role: "user", content: [{ text: "Where does my data go?" }] }];
const out = await rt.send(new ConverseCommand({ modelId: "eu.demo.chat-small", messages }));
console.log(out.output.message.content[0].text);
console.log(`served in ${servedIn}, request id ${out.$metadata.requestId}`);

const stream = await rt.send(new ConverseStreamCommand({ modelId: "eu.demo.chat-small", messages }));
for await (const ev of stream.stream) {
  if (ev.contentBlockDelta) process.stdout.write(ev.contentBlockDelta.delta.text);
  if (ev.messageStop) console.log(`\n[${ev.messageStop.stopReason}]`);
}
console.log(`served in ${servedIn}`);
