#!/usr/bin/env bash
# Validates deploy/k8s/*.yaml against the Kubernetes OpenAPI schema with PyPI's
# kubernetes-validate, which bundles the schemas (no cluster and no network beyond the
# package index). Strict: unknown fields are errors. The manifests are not run on a
# cluster here.
set -euo pipefail
cd "$(dirname "$0")"
version=1.31.0
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  venv=$(mktemp -d /tmp/tailrisk-k8s.XXXXXX)
  trap 'rm -rf "$venv"' EXIT
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "kubernetes-validate==1.31.0"
  PATH="$venv/bin:$PATH"
fi
kubernetes-validate --strict --kubernetes-version "$version" pvc.yaml shard-job.yaml merge-job.yaml
# What the schema cannot say: an Indexed Job whose pods take their shard from the index, as
# many shards as completions, and a merge of every one of them.
grep -q '^  completionMode: Indexed$' shard-job.yaml
grep -q -- '- \$(JOB_COMPLETION_INDEX)/\$(SHARDS)$' shard-job.yaml
n=$(sed -n 's/^  completions: \([0-9]*\)$/\1/p' shard-job.yaml)
grep -A1 'name: SHARDS' shard-job.yaml | grep -q "value: \"$n\""
for ((i = 0; i < n; i++)); do grep -q -- "- /shards/shard-$i.trs" merge-job.yaml; done
echo "k8s manifests: valid against Kubernetes $version; Indexed Job of $n shards and its merge agree"
