"""The deployment manifests (deploy/) are valid YAML with the kinds and fields their
comments describe. Their backtide commands are checked against the binary by
crates/cli/tests/it/deploy.rs; no cluster runs them here."""

import pathlib

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy"


def docs(name):
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def test_kubernetes_manifests_parse_with_their_kinds():
    api = docs("kubernetes/api.yaml")
    assert [d["kind"] for d in api] == [
        "Secret", "PersistentVolumeClaim", "Deployment", "Service"]
    assert api[0]["stringData"]["store"].startswith("postgres://")
    assert api[1]["spec"]["accessModes"] == ["ReadWriteMany"]
    api_args = api[2]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert api_args[api_args.index("--workers") + 1] == "0"
    (worker,) = docs("kubernetes/worker.yaml")
    assert worker["kind"] == "Deployment"
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "worker"
    assert container["env"][0]["name"] == "BACKTIDE_STORE"
    (job,) = docs("kubernetes/sweep-job.yaml")
    assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--shard") + 1] == f"auto/{job['spec']['completions']}"
    (merge,) = docs("kubernetes/sweep-merge-job.yaml")
    assert "sweep-merge" in merge["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_compose_file_parses():
    (c,) = docs("compose.yaml")
    services = c["services"]
    assert set(services) == {"postgres", "api", "worker"}
    assert "backtide serve" in services["api"]["command"][0]
    assert "--workers 0" in services["api"]["command"][0]
    assert "backtide worker" in services["worker"]["command"][0]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert all("backtide-data:/data" in services[s]["volumes"] for s in ("api", "worker"))
