# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh ($tools, $root and log come from there).
# OPA's own Go engine, for the policy gate's conformance test and benchmark.
# PyPI's opa-golib-python-bindings ships it as a C shared library with a thin
# Python wrapper. The wheel declares Python >= 3.14 but the library and its
# ctypes wrapper work on 3.11, so the wheel is downloaded for 3.14 and unzipped
# into .tools/opa-py (put on PYTHONPATH by the tests), never pip-installed.
opa_py_version=0.4.4
if ! [ -f "$tools/opa-py/.version-$opa_py_version" ]; then
  log "installing opa-golib-python-bindings==$opa_py_version from PyPI (unzipped)"
  rm -rf "$tools/opa-py" "$tools/opa-py-wheel"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.14 --dest "$tools/opa-py-wheel" "opa-golib-python-bindings==$opa_py_version"
  wheel="$(find "$tools/opa-py-wheel" -name '*.whl' | head -n1)"
  [ -n "$wheel" ] || { log "no wheel for opa-golib-python-bindings $opa_py_version"; exit 3; }
  mkdir -p "$tools/opa-py"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$tools/opa-py"
  rm -rf "$tools/opa-py-wheel"
  touch "$tools/opa-py/.version-$opa_py_version"
fi
