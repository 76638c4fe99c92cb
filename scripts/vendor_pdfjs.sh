#!/usr/bin/env bash
# Reproduce the vendored pdf.js files of the web app (api/http/web/static/vendor/pdfjs/) from
# the npm registry: the pinned pdfjs-dist tarball, checked against its sha256, and only the
# built files the source viewer loads (the library, its worker) plus the licence.
# Usage: scripts/vendor_pdfjs.sh   (needs npm and network access to the npm registry)
set -euo pipefail

VERSION=4.10.38
SHA256=1011b38553532d7078c59f26b15a471f8dae00f101b60e2add9b8511737a1ce0
FILES=(build/pdf.min.mjs build/pdf.worker.min.mjs LICENSE)

repo=$(cd "$(dirname "$0")/.." && pwd)
target="$repo/api/http/web/static/vendor/pdfjs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "pdfjs-dist@$VERSION" >/dev/null)
tarball="$work/pdfjs-dist-$VERSION.tgz"
echo "$SHA256  $tarball" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$work"

mkdir -p "$target"
for file in "${FILES[@]}"; do
    install -m 0644 "$work/package/$file" "$target/$(basename "$file")"
done
echo "pdfjs-dist $VERSION" >"$target/VERSION"
echo "vendored pdfjs-dist $VERSION into $target"
