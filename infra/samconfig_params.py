"""Reads samconfig.toml as `sam deploy --config-env ENV` does, with SAM CLI's own code (run it
with aws-sam-cli's Python): the env's deploy parameters merged over its global ones (an env does
not inherit [default.*]), and parameter_overrides parsed by SAM CLI's parser (quoting, spaces).

Prints {"<env>": {"region", "stack_name", "capabilities", "confirm_changeset", "tags",
"parameters": {...}}} as JSON, and fails when an env lacks a region, a stack name or overrides.
"""

import argparse
import json
import os
import sys

from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="samconfig.toml")
    parser.add_argument("envs", nargs="+")
    args = parser.parse_args()

    path = os.path.abspath(args.config)
    config = SamConfig(os.path.dirname(path), os.path.basename(path))
    out, problems = {}, []
    for env in args.envs:
        deploy = config.get_all(["deploy"], "parameters", env=env)
        for required in ("region", "stack_name", "parameter_overrides", "capabilities"):
            if not deploy.get(required):
                problems.append(f"[{env}] has no {required} for sam deploy")
        overrides = CfnParameterOverridesType().convert(
            deploy.get("parameter_overrides", ""), None, None
        )
        out[env] = {
            "region": deploy.get("region"),
            "stack_name": deploy.get("stack_name"),
            "capabilities": deploy.get("capabilities"),
            "confirm_changeset": deploy.get("confirm_changeset", False),
            "tags": deploy.get("tags"),
            "parameters": overrides,
        }
    if problems:
        sys.exit("samconfig.toml: " + "; ".join(problems))
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
