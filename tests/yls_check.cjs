// yaml-language-server (the engine of VS Code's YAML extension and of other editors) checks
// lesson files as an author's editor does: through each file's `# yaml-language-server:
// $schema=...` line, reading YAML 1.1 as .vscode/settings.json says. Usage:
//   node yls_check.cjs NODE_PREFIX FILE...   (one JSON line per file: its problems)
const fs = require("fs");
const path = require("path");
const { pathToFileURL, fileURLToPath } = require("url");
const prefix = process.argv[2];
const { getLanguageService } = require(path.join(prefix, "node_modules/yaml-language-server/out/server/src/languageservice/yamlLanguageService.js"));
const { TextDocument } = require(path.join(prefix, "node_modules/vscode-languageserver-textdocument"));
const service = getLanguageService({
  schemaRequestService: async (uri) => fs.readFileSync(fileURLToPath(uri), "utf8"),
  workspaceContext: { resolveRelativePath: (rel, resource) => new URL(rel, resource).toString() },
});
service.configure({ validate: true, yamlVersion: "1.1", completion: false, hover: false });
(async () => {
  for (const file of process.argv.slice(3)) {
    const uri = pathToFileURL(path.resolve(file)).toString();
    const doc = TextDocument.create(uri, "yaml", 1, fs.readFileSync(file, "utf8"));
    const found = await service.doValidation(doc, false);
    console.log(JSON.stringify({ file, problems: found.map((d) => ({ line: d.range.start.line + 1, message: d.message })) }));
  }
})();
