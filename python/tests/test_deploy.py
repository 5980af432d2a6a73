"""The deployment manifests (deploy/) are valid YAML with the kinds and fields their
comments describe. Their backtide commands are checked against the binary by
crates/cli/tests/it/deploy.rs; no cluster runs them here."""

import pathlib

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy"


def docs(name):
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def test_kubernetes_manifests_parse_with_their_kinds():
    assert [d["kind"] for d in docs("kubernetes/api.yaml")] == [
        "Secret", "PersistentVolumeClaim", "Deployment", "Service"]
    (job,) = docs("kubernetes/sweep-job.yaml")
    assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--shard") + 1] == f"auto/{job['spec']['completions']}"
    (merge,) = docs("kubernetes/sweep-merge-job.yaml")
    assert "sweep-merge" in merge["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_compose_file_parses():
    (c,) = docs("compose.yaml")
    assert c["services"]["api"]["command"][0] == "serve"
