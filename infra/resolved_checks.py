"""Checks what only shows once the intrinsics are resolved (iam_policies.Resolver), per
environment:

- the ConsoleConfig output is the JSON console/src/auth.rs reads (api_url, cognito.domain,
  client_id, scopes, actor_claim), naming this stack's API, hosted UI and app client;
- each schedule's Input is the EventBridge "Scheduled Event" envelope the functions read
  (shared/lambda/src/events.rs: detail-type "Scheduled Event", source aws.scheduler, a time);
- each rule's input template is valid JSON once its placeholders are filled;
- the functions' environments name this stack's bucket, table, bus, roles and job prefix, and
  TOLLGATE_UPLOAD_SIGNER is the API role's principal prefix, AWS:<RoleId>: (functions/ingest);
- every resource whose type takes tags (per cfn-lint's resource schemas) has Project and
  Environment, but those SAM generates with no way to tag them (UNTAGGABLE_BY_SAM), which get
  the stack's tags (samconfig.toml `tags`) like every other resource.

Exits 1 on any problem.
"""

import argparse
import json
import os
import re
import sys

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from iam_policies import Resolver, Unresolved

# SAM writes these from a function's events and offers no Tags for them (they get the stack's
# tags); the HTTP API's tags are in its OpenAPI body (x-amazon-apigateway-tag-value).
SAM_GENERATED = {
    "TuneFunctionTollgateEvents",
    "TuneFunctionTrainingJobStateChanges",
    "EvaluateFunctionCandidates",
    "DeployFunctionProductionChanges",
    "DeployFunctionEndpointStateChanges",
    "NotifyFunctionNotices",
    "IngestFunctionUploads",
    "IngestFunctionProcessingJobStateChanges",
    "HttpApi",
}


def check(template: dict, parameters: dict, region: str, stack: str) -> list:
    r = Resolver(template, parameters, region, stack)
    res = template["Resources"]
    problems = []

    # The console's config.json.
    try:
        config = json.loads(r.value(template["Outputs"]["ConsoleConfig"]["Value"]))
    except (ValueError, KeyError) as e:
        return [f"ConsoleConfig is not JSON: {e}"]
    api = r.value({"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"})
    want = {
        "api_url": api,
        "cognito": {
            "domain": f"https://{r.ref('UserPoolDomain')}.auth.{region}.amazoncognito.com",
            "client_id": r.ref("UserPoolClient"),
            "scopes": ["openid", "email", "profile"],
            "actor_claim": "email",
        },
    }
    if config != want:
        problems.append(f"ConsoleConfig is {config}, not {want}")
    if r.value(template["Outputs"]["ApiUrl"]["Value"]) != api:
        problems.append("ApiUrl and ConsoleConfig's api_url differ")

    # Schedules: the envelope the functions read.
    for logical_id, resource in res.items():
        if resource["Type"] != "AWS::Scheduler::Schedule":
            continue
        text = r.value(resource["Properties"]["Target"]["Input"])
        filled = re.sub(r"<aws\.scheduler\.[a-z-]+>", "2026-12-01T06:00:00Z", text)
        try:
            event = json.loads(filled)
        except ValueError as e:
            problems.append(f"{logical_id}: Input is not JSON: {e}")
            continue
        if event.get("detail-type") != "Scheduled Event" or event.get("source") != "aws.scheduler":
            problems.append(f"{logical_id}: Input is not a Scheduled Event from aws.scheduler")
        if event.get("time") != "2026-12-01T06:00:00Z" or not isinstance(event.get("detail"), dict):
            problems.append(f"{logical_id}: Input lacks the schedule's time or a detail object")

    # Rules' input templates.
    for logical_id, resource in res.items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        for target in resource["Properties"].get("Targets", []):
            transformer = target.get("InputTransformer")
            if transformer:
                filled = re.sub(r"<[a-z]+>", "x", r.value(transformer["InputTemplate"]))
                try:
                    json.loads(filled)
                except ValueError as e:
                    problems.append(f"{logical_id}: InputTemplate is not JSON: {e}")

    # Every rule may deliver where it sends: a topic's or a dead-letter queue's policy names the
    # rule (aws:SourceArn), or SNS and SQS refuse what EventBridge brings them.
    def allowed_sources(policy_type: str, key: str, target: str) -> set:
        sources = set()
        for resource in res.values():
            if resource["Type"] != policy_type:
                continue
            props = r.value(resource["Properties"])
            if target not in props.get(key, []):
                continue
            for statement in props["PolicyDocument"]["Statement"]:
                arns = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn", [])
                sources.update([arns] if isinstance(arns, str) else arns)
        return sources

    for logical_id, resource in res.items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        rule_arn = r.getatt(logical_id, "Arn")
        for target in resource["Properties"].get("Targets", []):
            arn = r.value(target["Arn"])
            if ":sns:" in arn and rule_arn not in allowed_sources("AWS::SNS::TopicPolicy", "Topics", arn):
                problems.append(f"{logical_id}: the topic's policy does not let this rule publish")
            dead = target.get("DeadLetterConfig", {}).get("Arn")
            if dead is not None:
                queue = next(
                    (k for k, q in res.items() if q["Type"] == "AWS::SQS::Queue"
                     and r.getatt(k, "Arn") == r.value(dead)),
                    None,
                )
                if queue is None:
                    problems.append(f"{logical_id}: its dead-letter queue is not this template's")
                elif rule_arn not in allowed_sources("AWS::SQS::QueuePolicy", "Queues", r.ref(queue)):
                    problems.append(f"{logical_id}: {queue}'s policy does not let this rule send to it")

    # Functions' environments.
    expected_common = {
        "TOLLGATE_BUCKET": r.ref("DataBucket"),
        "TOLLGATE_TABLE": r.ref("CatalogTable"),
        "TOLLGATE_EVENT_BUS": r.getatt("EventBus", "Name"),
    }
    for logical_id, resource in res.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        env = r.value(resource["Properties"].get("Environment", {})).get("Variables", {})
        for name, value in expected_common.items():
            if env.get(name) != value:
                problems.append(f"{logical_id}: {name}={env.get(name)!r}, not {value!r}")
        if logical_id in ("TuneFunction", "MonitorFunction", "DeployFunction"):
            if env.get("TOLLGATE_SAGEMAKER_ROLE_ARN") != r.getatt("SageMakerExecutionRole", "Arn"):
                problems.append(f"{logical_id}: TOLLGATE_SAGEMAKER_ROLE_ARN is not the training role")
            prefix = env.get("TOLLGATE_JOB_PREFIX", "")
            if not re.fullmatch(r"[a-zA-Z0-9-]{1,9}", prefix):
                problems.append(f"{logical_id}: TOLLGATE_JOB_PREFIX {prefix!r} (at most 9 of a-zA-Z0-9-)")
        if logical_id == "IngestFunction":
            signer = env.get("TOLLGATE_UPLOAD_SIGNER")
            if signer != f"AWS:{r.getatt('ApiFunctionRole', 'RoleId')}:":
                problems.append(f"IngestFunction: TOLLGATE_UPLOAD_SIGNER={signer!r}, not AWS:<api role id>:")
            # Uploads too big for it go to processing jobs run as the processing role, named
            # with the deployment's prefix (the rule and the IAM grants match it).
            if env.get("TOLLGATE_PROCESSING_ROLE_ARN") != r.getatt("ProcessingRole", "Arn"):
                problems.append("IngestFunction: TOLLGATE_PROCESSING_ROLE_ARN is not the processing role")
            if env.get("TOLLGATE_JOB_PREFIX") != parameters.get("JobPrefix"):
                problems.append("IngestFunction: TOLLGATE_JOB_PREFIX is not the stack's JobPrefix")
        if logical_id == "ApiFunction" and env.get("TOLLGATE_ACTOR_CLAIM") != "email":
            problems.append("ApiFunction: TOLLGATE_ACTOR_CLAIM is not email")
    # Tags on everything that takes them.
    for logical_id, resource in res.items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource["Type"]).schema
        tagging = schema.get("tagging", {})
        prop = tagging.get("tagProperty", "/properties/Tags").split("/")[-1]
        if not tagging.get("taggable", prop in schema.get("properties", {})):
            continue
        if logical_id in SAM_GENERATED:
            continue
        value = r.value(resource.get("Properties", {}).get(prop, {}))
        pairs = (
            {t["Key"]: t["Value"] for t in value} if isinstance(value, list) else dict(value)
        )
        if pairs.get("Project") != "tollgate" or pairs.get("Environment") != parameters["Environment"]:
            problems.append(f"{logical_id} ({resource['Type']}): {prop} lacks Project/Environment")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True, help="samconfig_params.py's JSON")
    parser.add_argument("translated", nargs="+", help="translated-<env>.json")
    args = parser.parse_args()
    with open(args.params, encoding="utf-8") as f:
        configs = json.load(f)
    problems = []
    for path in args.translated:
        env = re.fullmatch(r"translated-(.+)\.json", os.path.basename(path)).group(1)
        config = configs[env]
        with open(path, encoding="utf-8") as f:
            template = json.load(f)
        try:
            found = check(template, config["parameters"], config["region"], config["stack_name"])
        except Unresolved as e:
            found = [f"cannot resolve {e}"]
        print(f"{env}: {'ok' if not found else f'{len(found)} problem(s)'}")
        problems.extend(f"[{env}] {p}" for p in found)
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
