#!/usr/bin/env node
// Compile docs/lesson.schema.json with ajv in strict mode and validate YAML files against it.
//
//   node tests/ajv_check.cjs <node-prefix> <schema.json> <file.yaml>...
//
// <node-prefix> is where `npm install --prefix <node-prefix> ajv@8 ajv-formats@3 yaml@2` put
// the packages. Files are read as YAML 1.1, as the bot reads them (`Yes` is true), except that
// timestamps stay strings, as they do in editors and check-jsonschema. Prints one JSON line per
// file: {"file", "valid", "errors": [{"instancePath", "keyword", "message", "params"}]}, the
// first error being the one ajv stops at. Exits 0 when every file is valid, 1 when one is not,
// 2 when the schema does not compile (strict mode refused it) or a file cannot be read.
"use strict";

const fs = require("fs");
const path = require("path");

const [prefix, schemaPath, ...files] = process.argv.slice(2);
if (!prefix || !schemaPath) {
  console.error("usage: ajv_check.cjs <node-prefix> <schema.json> <file.yaml>...");
  process.exit(2);
}
const paths = [path.resolve(prefix, "node_modules"), path.resolve(prefix)];
const load = (name) => require(require.resolve(name, { paths }));
const Ajv2020 = load("ajv/dist/2020").default;
const addFormats = load("ajv-formats").default;
const YAML = load("yaml");

const ajv = new Ajv2020({ strict: true });
addFormats(ajv);
let validate;
try {
  validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, "utf8")));
} catch (err) {
  console.error(`schema refused: ${err.message}`);
  process.exit(2);
}

const noTimestamps = (tags) => tags.filter((tag) => tag.tag !== "tag:yaml.org,2002:timestamp");
let allValid = true;
for (const file of files) {
  let data;
  try {
    data = YAML.parse(fs.readFileSync(file, "utf8"), { version: "1.1", customTags: noTimestamps });
  } catch (err) {
    console.error(`${file}: ${err.message}`);
    process.exit(2);
  }
  const valid = validate(data);
  allValid = allValid && valid;
  const errors = (validate.errors || []).map(({ instancePath, keyword, message, params }) => (
    { instancePath, keyword, message, params }));
  console.log(JSON.stringify({ file, valid, errors }));
}
process.exit(allValid ? 0 : 1);
