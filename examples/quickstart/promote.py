"""Quickstart: register a trained model and promote it through Ferry's gates.

What a user would write: the plain MLflow client for the registry (register,
aliases) and `requests` for Ferry's own governance endpoints (approvals).
The promotion itself goes through the normal MLflow API
(`set_registered_model_alias`); when the registered model has a promotion
policy, Ferry refuses a move that fails its gates with PERMISSION_DENIED and
says which gates failed.

    python promote.py check
    python promote.py register --run-id RUN_ID --name quickstart-credit
    python promote.py approve --name quickstart-credit --version 1 \
        --target alias:champion --user alice --comment "validated"
    python promote.py promote --name quickstart-credit --version 1 --alias champion

MLFLOW_TRACKING_URI must point at the server. Exit codes: 0 done, 1 error,
3 promotion refused by the gates (promote) / governance API absent (check),
4 model registry absent (check).
"""

from __future__ import annotations

import argparse
import os
import sys

import mlflow
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

FERRY_API = "/api/2.0/ferry"


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        sys.exit("promote.py: set MLFLOW_TRACKING_URI to the server's http:// address")
    return uri.rstrip("/")


def check(_args) -> int:
    """0: registry and Ferry governance; 3: registry only; 4: no registry."""
    try:
        MlflowClient().search_registered_models(max_results=1)
    except MlflowException as e:
        print(e.message.splitlines()[0])
        return 4
    # Ferry answers RESOURCE_DOES_NOT_EXIST for a model it does not know;
    # a server without the governance API has no such endpoint at all.
    resp = requests.get(f"{tracking_uri()}{FERRY_API}/registered-models/policy/get",
                        params={"name": "__quickstart_probe__"}, timeout=30)
    try:
        code = resp.json().get("error_code")
    except ValueError:
        code = None
    if resp.status_code == 200 or code == "RESOURCE_DOES_NOT_EXIST":
        return 0
    print(f"no Ferry governance API: GET {FERRY_API}/registered-models/policy/get "
          f"answered HTTP {resp.status_code}")
    return 3


def register(args) -> int:
    mv = mlflow.register_model(f"runs:/{args.run_id}/model", args.name)
    client = MlflowClient()
    client.set_model_version_tag(args.name, mv.version, "trained_by", "examples/quickstart/train.py")
    if args.description:
        client.update_model_version(args.name, mv.version, description=args.description)
    print(f"registered {args.name} version {mv.version} (source {mv.source})")
    print(f"version: {mv.version}")
    return 0


def approve(args) -> int:
    resp = requests.post(
        f"{tracking_uri()}{FERRY_API}/model-versions/approve",
        json={"name": args.name, "version": args.version, "target": args.target,
              "comment": args.comment},
        headers={"X-Ferry-User": args.user},
        timeout=30,
    )
    if resp.status_code != 200:
        print(f"approval failed: HTTP {resp.status_code}: {resp.text}", file=sys.stderr)
        return 1
    a = resp.json()["approval"]
    print(f"{a['user']} approved {a['name']} version {a['version']} for {a['target']}"
          + (f": {a['comment']}" if a.get("comment") else ""))
    return 0


def promote(args) -> int:
    client = MlflowClient()
    try:
        client.set_registered_model_alias(args.name, args.alias, args.version)
    except MlflowException as e:
        if e.error_code != "PERMISSION_DENIED":
            raise
        print(f"REFUSED: {args.name} version {args.version} cannot become @{args.alias}:")
        message = e.message.removeprefix("PERMISSION_DENIED: ")
        for line in message.splitlines():
            print(f"    {line}")
        return 3
    mv = client.get_model_version_by_alias(args.name, args.alias)
    print(f"promoted: {args.name}@{args.alias} -> version {mv.version}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="is the registry (and Ferry's governance API) there?")
    r = sub.add_parser("register", help="register runs:/<run_id>/model as a new version")
    r.add_argument("--run-id", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--description", default="")
    a = sub.add_parser("approve", help="approve a version for a protected alias or stage")
    a.add_argument("--name", required=True)
    a.add_argument("--version", required=True)
    a.add_argument("--target", default="alias:champion", help="alias:<name> or stage:<Stage>")
    a.add_argument("--user", required=True, help="who approves (sent as X-Ferry-User)")
    a.add_argument("--comment", default="")
    m = sub.add_parser("promote", help="point an alias at a version (gated by the policy)")
    m.add_argument("--name", required=True)
    m.add_argument("--version", required=True)
    m.add_argument("--alias", default="champion")
    args = p.parse_args()
    tracking_uri()
    return {"check": check, "register": register, "approve": approve, "promote": promote}[
        args.command
    ](args)


if __name__ == "__main__":
    sys.exit(main())
