"""Creates Tollgate's stack, as infra/check.sh translated it, in the stand-in's CloudFormation.

    python infra/standin_stack.py --endpoint http://127.0.0.1:4566 --stack t123 \\
        --template ~/.cache/tollgate/infra-check/translated-dev.json \\
        --params ~/.cache/tollgate/infra-check/samconfig.json --env dev

The stand-in (moto) creates the stack's buckets, table, queues, event bus and rules, roles,
topic, key and log groups from the template itself; the tests then run against the names in
the stack's outputs. What moto cannot take as the template writes it is changed first, each
change printed on stderr with its reason: the functions are left out (LEFT_OUT), and so is every
resource of a type moto has no CloudFormation model for (it asks moto, so it runs in moto's
venv), with what depends on them. The template is never changed for AWS: only this copy.

Bucket properties moto ignores in CloudFormation (versioning, the public access block, the
queue notifications) are then put by API, as the template declares them.

Prints one JSON object on stdout: the names the tests use (bucket, table, bus, ingest queue,
the queue that receives the people's notices in the alerts topic's stead; with --observe, a
queue that receives every Tollgate event), the stack's outputs, and what was left out.

Safe to run twice with the same --stack: an existing stack is left as it is and its outputs
printed.
"""

import argparse
import copy
import json
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError
from moto.cloudformation.parsing import NULL_MODELS, get_model_map

from cfn_refs import referenced

# Resource types left out of the stand-in's copy, with why. Everything that refers to them is
# left out with them (a rule's target, a DependsOn, an output).
LEFT_OUT = {
    "AWS::Lambda::Function": "the stand-in runs no function code (moto needs Docker for Lambda); "
    "the tests call each handler in-process with the environment the template gives it",
    "AWS::Lambda::EventSourceMapping": "no function to deliver to",
    "AWS::Lambda::Permission": "no function to invoke",
}


# The queue that stands in for the alerts topic as the rules' target (see adapt).
ALERTS_QUEUE = "StandinAlertsQueue"


def log(message: str) -> None:
    print(message, file=sys.stderr)


def refers_to(node, names: set) -> bool:
    """Whether `node` refers to one of `names`."""
    return bool(referenced(node) & names)


def prune(node, names: set):
    """`node` without the list items that refer to `names` (a rule's targets, say). Never
    inside an intrinsic function, whose arguments are positional: a resource whose intrinsic
    needs a left-out resource is left out itself (adapt's cascade)."""
    if isinstance(node, dict):
        if any(k.startswith("Fn::") for k in node):
            return node
        return {k: prune(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [prune(v, names) for v in node if not refers_to(v, names)]
    return node


def adapt(template: dict) -> tuple:
    """The template as the stand-in can create it, and what was changed (one line each)."""
    template = copy.deepcopy(template)
    resources = template["Resources"]
    changes = []
    supported = set(get_model_map()) - set(NULL_MODELS)
    gone = set()
    for logical_id, resource in sorted(resources.items()):
        kind = resource["Type"]
        if kind in LEFT_OUT:
            changes.append(f"left out {logical_id}: {LEFT_OUT[kind]}")
        elif kind not in supported:
            changes.append(f"left out {logical_id}: moto has no CloudFormation support for {kind}")
        else:
            continue
        gone.add(logical_id)
    for logical_id in gone:
        del resources[logical_id]
    # What needs a left-out resource as a whole (a schedule whose one target is a function)
    # goes with it, until nothing more does.
    while True:
        follows = {
            k for k, r in resources.items()
            if refers_to(prune(r.get("Properties", {}), gone), gone)
        }
        if not follows:
            break
        for logical_id in sorted(follows):
            needs = sorted(gone & referenced(resources[logical_id]))
            changes.append(f"left out {logical_id}: it needs {', '.join(needs)}")
            del resources[logical_id]
        gone |= follows
    for logical_id, resource in list(resources.items()):
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [depends] if isinstance(depends, str) else depends
            resource["DependsOn"] = [d for d in depends if d not in gone]
        pruned = prune(resource.get("Properties", {}), gone)
        if pruned != resource.get("Properties", {}):
            dropped = sorted(gone & referenced(resource.get("Properties", {})))
            changes.append(f"{logical_id}: without what names {', '.join(dropped)}")
            resource["Properties"] = pruned
        if refers_to(resource.get("Properties", {}), gone):
            raise SystemExit(f"{logical_id} still refers to a left-out resource")
    for name, output in list(template.get("Outputs", {}).items()):
        if refers_to(output, gone):
            changes.append(f"output {name}: left out with {', '.join(sorted(gone & referenced(output)))}")
            del template["Outputs"][name]

    # moto 5.2.5 reads a KMS key's Tags as TagKey/TagValue (the KMS API's shape), not
    # CloudFormation's Key/Value, and fails with a KeyError.
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::KMS::Key" and resource.get("Properties", {}).pop("Tags", None):
            changes.append(f"{logical_id}: no Tags (moto reads KMS tags in the KMS API's shape)")
    # moto 5.2.5's EventBridge delivers to SQS, logs and buses, not to SNS: a rule on the
    # Tollgate bus with a topic target fails every PutEvents that matches it. So the rules'
    # topic targets (the people's notices) become a queue, ALERTS_QUEUE, which receives the
    # rule's name and the event it matched: moto matches the patterns, and the tests apply the
    # rule's input transformer from the template. (moto's own transformer puts values in
    # unescaped, so a reason with a quote in it would fail the publisher's PutEvents.)
    topics = {k for k, r in resources.items() if r["Type"] == "AWS::SNS::Topic"}
    redirected = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        for target in resource.get("Properties", {}).get("Targets", []):
            if referenced(target.get("Arn")) & topics:
                target["Arn"] = {"Fn::GetAtt": [ALERTS_QUEUE, "Arn"]}
                target["InputTransformer"] = {
                    "InputTemplate": '{"rule": "%s", "event": <aws.events.event.json>}' % logical_id
                }
                redirected.append(logical_id)
    if redirected:
        resources[ALERTS_QUEUE] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-alerts"}},
        }
        changes.append(
            f"{', '.join(redirected)}: to the queue {ALERTS_QUEUE} instead of the alerts topic "
            "(moto's EventBridge cannot deliver to SNS)"
        )
    return template, changes


class Stack:
    """The created stack's resources, for what has to be done by API after it."""

    def __init__(self, session, endpoint: str, physical: dict):
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.events = session.client("events", endpoint_url=endpoint)
        self.physical = physical

    def queue_arn(self, node) -> str:
        """A queue's ARN from the template's `Fn::GetAtt: [Queue, Arn]`."""
        target = node.get("Fn::GetAtt") if isinstance(node, dict) else None
        if not (isinstance(target, list) and target[1] == "Arn" and target[0] in self.physical):
            raise SystemExit(f"cannot resolve {node} (only a queue's Fn::GetAtt Arn is expected)")
        return self.sqs.get_queue_attributes(
            QueueUrl=self.physical[target[0]], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]


def literal(node, what: str):
    """`node` when it has no intrinsic function in it, else a clear failure."""
    if "Fn::" in json.dumps(node) or '"Ref"' in json.dumps(node):
        raise SystemExit(f"{what}: {node} is not a literal value; standin_stack.py cannot apply it")
    return node


def apply_ignored(template: dict, stack: Stack) -> list:
    """Puts, by API, the bucket properties moto 5.2.5 creates a bucket without: versioning, the
    public access block and the queue notifications, as the template declares them (the
    ingest path needs the first and the last). Returns what it did, one line each."""
    done = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        bucket = stack.physical.get(logical_id)
        if bucket is None:
            raise SystemExit(
                f"{logical_id} is in the template but not in the existing stack: delete the "
                "stack (or reset the stand-in) and create it again"
            )
        props = resource.get("Properties", {})
        if "VersioningConfiguration" in props:
            status = literal(props["VersioningConfiguration"], f"{logical_id} versioning")["Status"]
            stack.s3.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": status}
            )
            done.append(f"{logical_id}: versioning {status}")
        if "PublicAccessBlockConfiguration" in props:
            block = literal(props["PublicAccessBlockConfiguration"], f"{logical_id} access block")
            stack.s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=block
            )
            done.append(f"{logical_id}: public access blocked")
        queues = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        if queues:
            configurations = []
            for index, queue in enumerate(queues):
                rules = [
                    {"Name": r["Name"], "Value": r["Value"]}
                    for r in literal(queue.get("Filter", {}), f"{logical_id} filter")
                    .get("S3Key", {})
                    .get("Rules", [])
                ]
                configuration = {
                    "Id": f"{logical_id}-{index}",
                    "QueueArn": stack.queue_arn(queue["Queue"]),
                    "Events": [literal(queue["Event"], f"{logical_id} event")],
                }
                if rules:
                    configuration["Filter"] = {"Key": {"FilterRules": rules}}
                configurations.append(configuration)
            stack.s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={"QueueConfigurations": configurations},
            )
            done.append(
                f"{logical_id}: notifies "
                + ", ".join(f"{c['QueueArn'].split(':')[-1]} of {c['Events'][0]}" for c in configurations)
            )
    return done


def observe(stack: Stack, name: str, bus: str) -> str:
    """A queue that gets a copy of every Tollgate event on the stack's bus, for tests and
    people to see what was published (not part of the template). Returns its URL."""
    url = stack.sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stack.events.put_rule(
        Name=f"{name}-all-events",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["tollgate"]}),
        State="ENABLED",
    )
    stack.events.put_targets(
        Rule=f"{name}-all-events", EventBusName=bus, Targets=[{"Id": "events-queue", "Arn": arn}]
    )
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack", required=True, help="the stack's name (names start with it)")
    parser.add_argument("--template", required=True, help="infra/check.sh's translated-<env>.json")
    parser.add_argument("--params", required=True, help="infra/check.sh's samconfig.json")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument(
        "--observe",
        action="store_true",
        help="also a queue <stack>-events with a copy of every Tollgate event on the bus",
    )
    args = parser.parse_args()

    with open(args.template, encoding="utf-8") as f:
        template = json.load(f)
    with open(args.params, encoding="utf-8") as f:
        parameters = json.load(f)[args.env]["parameters"]
    adapted, changes = adapt(template)
    for change in changes:
        log(f"  stand-in: {change}")

    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=args.region,
    )
    cloudformation = session.client("cloudformation", endpoint_url=args.endpoint)
    started = time.monotonic()
    try:
        cloudformation.create_stack(
            StackName=args.stack,
            TemplateBody=json.dumps(adapted),
            Parameters=[
                {"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()
            ],
            Capabilities=["CAPABILITY_IAM"],
        )
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "AlreadyExistsException":
            raise
        log(f"  stand-in: stack {args.stack} exists; using it")
    while True:
        stack = cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        if time.monotonic() - started > 120:
            raise SystemExit(f"stack {args.stack}: still {stack['StackStatus']} after 120 s")
        time.sleep(0.2)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise SystemExit(f"stack {args.stack}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    log(f"  stand-in: stack {args.stack} ready in {time.monotonic() - started:.1f} s")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId")
        for r in cloudformation.list_stack_resources(StackName=args.stack)["StackResourceSummaries"]
    }
    created = Stack(session, args.endpoint, physical)
    for line in apply_ignored(adapted, created):
        log(f"  stand-in: put by API (moto ignores it in CloudFormation): {line}")
    names = {
        "bucket": outputs["DataBucket"],
        "table": outputs["CatalogTable"],
        "bus": outputs["EventBus"],
        # The queue's URL as the stand-in serves it (its physical id names sqs.<region>).
        "ingest_queue_url": created.sqs.get_queue_url(
            QueueName=physical["IngestQueue"].rsplit("/", 1)[-1]
        )["QueueUrl"],
        "alerts_queue_url": created.sqs.get_queue_url(
            QueueName=physical[ALERTS_QUEUE].rsplit("/", 1)[-1]
        )["QueueUrl"]
        if ALERTS_QUEUE in physical
        else None,
        "region": args.region,
        "endpoint": args.endpoint,
        "outputs": outputs,
        "left_out": changes,
    }
    if args.observe:
        names["events_queue_url"] = observe(created, args.stack, outputs["EventBus"])
    print(json.dumps(names, indent=2))

if __name__ == "__main__":
    main()
