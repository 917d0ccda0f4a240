# Sourced by scripts/install-test-deps.sh ($tools, $root and log are set there).
# The official SARIF 2.1.0 JSON schema (2.1.0-rtm.5, the final OASIS text) as
# shipped inside npm's @microsoft/jest-sarif. Only the package tarball is
# unpacked: its jest dependencies are not needed to read one JSON file.
sarif_pkg='@microsoft/jest-sarif@1.0.0-beta.0'
sarif_dir="$tools/sarif-schema"
sarif_json="$sarif_dir/package/lib/schemas/sarif-2.1.0-rtm.5.json"
if [ ! -f "$sarif_json" ]; then
  log "installing the SARIF 2.1.0 schema from npm ($sarif_pkg)"
  rm -rf "$sarif_dir"
  mkdir -p "$sarif_dir"
  tarball="$(cd "$sarif_dir" && npm pack --silent "$sarif_pkg")"
  tar -xzf "$sarif_dir/$tarball" -C "$sarif_dir"
  [ -f "$sarif_json" ] || { log "no SARIF schema in $sarif_pkg"; exit 3; }
fi
# A relative link, so the schema resolves through any symlink to .tools.
ln -sfn "sarif-schema/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$tools/sarif-schema-2.1.0.json"
