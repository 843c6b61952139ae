#!/bin/sh
# helm --post-renderer: reads the rendered chart on stdin, writes it patched to stdout.
#   helm install stackstorm stackstorm/stackstorm-ha -n self-healing \
#     -f deploy/stackstorm-ha-values.yaml --post-renderer deploy/post-render/post-render.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/rendered.yaml"
cp "$here/kustomization.yaml" "$work/kustomization.yaml"
kubectl kustomize "$work"
