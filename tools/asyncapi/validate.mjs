// Validate an AsyncAPI document with the official parser: node validate.mjs FILE
// Prints every diagnostic as JSON lines and exits 1 when any is an error (severity 0).
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs FILE");
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"));
for (const d of diagnostics) {
  console.log(JSON.stringify({ severity: d.severity, code: d.code, path: d.path, message: d.message }));
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length > 0) {
  console.error(`${errors.length} error(s); document ${document ? "parsed" : "not parsed"}`);
  process.exit(1);
}
console.log(`ok: ${document.channels().length} channels, ${document.messages().length} messages`);
