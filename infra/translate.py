"""Translates the SAM template to plain CloudFormation offline, once per environment, with
aws-sam-translator (the code behind the AWS::Serverless transform), so that cfn-lint, checkov and
parliament can read what CloudFormation will create.

For each environment: its parameter values (samconfig_params.py's JSON: what `sam deploy
--config-env ENV` passes) are checked against the template's parameters (every override names a
parameter, every parameter without a default is given, values meet AllowedValues, AllowedPattern,
MinValue/MaxValue, and every parameter is used somewhere); each function's local CodeUri becomes
an s3:// URI (what `sam package` would upload); the translation runs in the env's region; and
the translated template's parameter defaults are set to the env's values, so that the checkers
evaluate that environment's conditions and values. Writes <out>/translated-<env>.json.
"""

import argparse
import copy
import json
import logging
import os
import re
import sys

from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from cfn_refs import referenced


def fail(message: str) -> None:
    sys.exit(f"translate: {message}")


def check_parameters(template: dict, values: dict, env: str) -> None:
    declared = template.get("Parameters", {})
    problems = []
    for name in values:
        if name not in declared:
            problems.append(f"{name} is overridden but the template has no such parameter")
    for name, spec in declared.items():
        if name not in values and "Default" not in spec:
            problems.append(f"{name} has no default and no override")
        value = str(values.get(name, spec.get("Default", "")))
        kind = spec.get("Type", "String")
        items = value.split(",") if kind == "CommaDelimitedList" else [value]
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            problems.append(f"{name}={value!r} is not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec:
            for item in items:
                if not re.fullmatch(spec["AllowedPattern"], item):
                    problems.append(f"{name}={item!r} does not match {spec['AllowedPattern']}")
        if kind == "Number":
            try:
                number = float(value)
            except ValueError:
                problems.append(f"{name}={value!r} is not a number")
                continue
            if "MinValue" in spec and number < float(spec["MinValue"]):
                problems.append(f"{name}={value} is below {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                problems.append(f"{name}={value} is above {spec['MaxValue']}")
    used = referenced({k: v for k, v in template.items() if k not in ("Parameters", "Metadata")})
    for name in declared:
        if name not in used:
            problems.append(f"parameter {name} is declared but nothing uses it")
    if problems:
        fail(f"[{env}] " + "; ".join(problems))


def with_s3_code(template: dict) -> dict:
    """Local CodeUri paths as the s3:// URIs `sam package` would write."""
    template = copy.deepcopy(template)
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        code = resource.get("Properties", {}).get("CodeUri")
        if isinstance(code, str) and not code.startswith("s3://"):
            resource["Properties"]["CodeUri"] = (
                f"s3://tollgate-offline-check/{logical_id}/bootstrap.zip"
            )
    return template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", required=True)
    parser.add_argument("--params", required=True, help="samconfig_params.py's JSON")
    parser.add_argument("--out", required=True)
    parser.add_argument("envs", nargs="+")
    args = parser.parse_args()
    # The translator's usage metrics ("unpublished metrics") are not ours to publish.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)

    with open(args.template, encoding="utf-8") as f:
        sam = yaml_parse(f.read())
    with open(args.params, encoding="utf-8") as f:
        configs = json.load(f)
    os.makedirs(args.out, exist_ok=True)

    for env in args.envs:
        config = configs[env]
        values = config["parameters"]
        check_parameters(sam, values, env)
        # The pseudo parameters (AWS::Region, AWS::Partition) follow the env's region.
        os.environ["AWS_DEFAULT_REGION"] = config["region"]
        os.environ["AWS_REGION"] = config["region"]
        translated = Translator(None, Parser()).translate(
            with_s3_code(sam),
            parameter_values=dict(values),
            passthrough_metadata=True,
            get_managed_policy_map=lambda: {},
        )
        for name, spec in translated.get("Parameters", {}).items():
            if name in values:
                value = values[name]
                if spec.get("Type") == "Number":
                    value = float(value) if "." in value else int(value)
                spec["Default"] = value
        path = os.path.join(args.out, f"translated-{env}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(translated, f, indent=1, sort_keys=False)
            f.write("\n")
        resources = translated.get("Resources", {})
        print(
            f"{env}: {config['stack_name']} in {config['region']}: {len(resources)} resources -> {path}"
        )


if __name__ == "__main__":
    main()
