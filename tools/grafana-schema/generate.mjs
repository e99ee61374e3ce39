// Generate the JSON Schema (draft-07) of Grafana's dashboard model from the TypeScript types
// @grafana/schema publishes (the CUE-generated "raw" dashboard types): node generate.mjs [OUT]
// Writes to OUT (atomically, via a temporary file beside it) or to stdout.
import { renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createGenerator } from "ts-json-schema-generator";

const require = createRequire(import.meta.url);
const pkg = dirname(require.resolve("@grafana/schema/package.json"));
const { version } = require("@grafana/schema/package.json");
const types = join(pkg, "dist", "esm", "raw", "dashboard", "x", "dashboard_types.gen.d.ts");

const schema = createGenerator({
  path: types,
  type: "Dashboard",
  skipTypeCheck: true, // a published .d.ts: type-checking it only costs time
  additionalProperties: false, // an unknown key is an error, as in Grafana's CUE schema
}).createSchema("Dashboard");
schema.$comment = `Generated from @grafana/schema ${version}: ${types.slice(pkg.length + 1)}`;

const text = JSON.stringify(schema, null, 2) + "\n";
const out = process.argv[2];
if (out) {
  writeFileSync(`${out}.tmp`, text);
  renameSync(`${out}.tmp`, out);
} else {
  process.stdout.write(text);
}
