#!/usr/bin/env python3
"""Makes etcd's v3 protos (as Debian's golang-etcd-server-dev ships them) compile with plain protoc.

Usage: strip_etcd_proto.py SOURCE_ROOT OUTPUT_ROOT

Finds rpc.proto (etcdserverpb), kv.proto (mvccpb) and auth.proto (authpb) under SOURCE_ROOT
(etcd 3.4 and 3.5+ lay them out differently), drops the gogoproto and google.api.http
annotations (Go code generation and the HTTP gateway: nothing the wire format depends on) and
their imports, and writes them as OUTPUT_ROOT/etcd/<package>/<file> with imports rewritten to
those paths. Packages, messages, fields and services are untouched, so the generated stubs speak
etcd's own gRPC API.
"""

import pathlib
import re
import sys

# package directory -> file name; the output path is etcd/<package>/<file>.
PROTOS = {"etcdserverpb": "rpc.proto", "mvccpb": "kv.proto", "authpb": "auth.proto"}

DROPPED_IMPORT = re.compile(r'^\s*import\s+"(gogoproto/gogo\.proto|google/api/annotations\.proto)";')
FILE_OPTION = re.compile(r"^\s*option\s+\(gogoproto\.[^)]*\)\s*=\s*[^;]*;\s*$")
FIELD_OPTION = re.compile(r"\s*\[\s*\(gogoproto\.[^\]]*\]")
HTTP_OPTION_START = re.compile(r"^\s*option\s+\(google\.api\.http\)\s*=\s*\{")
IMPORT = re.compile(r'^(\s*import\s+")([^"]+)(";.*)$')


def find(root, package, name):
  matches = sorted(p for p in root.rglob(name) if p.parent.name == package)
  if not matches:
    sys.exit(f"strip_etcd_proto: no {package}/{name} under {root}")
  return matches[0]


def rewrite_import(line):
  match = IMPORT.match(line)
  if not match:
    return line
  path = match.group(2)
  for package, name in PROTOS.items():
    if path.endswith(f"{package}/{name}"):
      return f"{match.group(1)}etcd/{package}/{name}{match.group(3)}"
  sys.exit(f"strip_etcd_proto: unexpected import {path}")


def strip(text):
  out = []
  in_http_option = False
  for line in text.splitlines():
    if in_http_option:
      # The option's value is a block ending in "};" on its own line.
      if line.strip() == "};":
        in_http_option = False
      continue
    if HTTP_OPTION_START.match(line):
      in_http_option = not line.rstrip().endswith("};")
      continue
    if DROPPED_IMPORT.match(line) or FILE_OPTION.match(line):
      continue
    out.append(rewrite_import(FIELD_OPTION.sub("", line)))
  if in_http_option:
    sys.exit("strip_etcd_proto: unterminated google.api.http option")
  leftover = [l for l in out if "gogoproto" in l or "google.api" in l]
  if leftover:
    sys.exit(f"strip_etcd_proto: annotations left: {leftover[:3]}")
  return "\n".join(out) + "\n"


def main():
  if len(sys.argv) != 3:
    sys.exit(__doc__)
  source_root, output_root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
  for package, name in PROTOS.items():
    text = find(source_root, package, name).read_text()
    target = output_root / "etcd" / package / name
    target.parent.mkdir(parents=True, exist_ok=True)
    stripped = strip(text)
    if not target.exists() or target.read_text() != stripped:
      target.write_text(stripped)


if __name__ == "__main__":
  main()
