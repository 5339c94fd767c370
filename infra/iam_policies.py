"""Audits every IAM role's inline policies in the translated templates: parliament (with its
community auditors), after every intrinsic function is resolved to what CloudFormation would
make of it in that environment (real-looking ARNs, names and ids, so parliament matches each
action's resource types), plus this stack's own least-privilege rules:

- no wildcard in an action, no NotAction/NotResource, no managed policy on a role;
- Resource "*" only for the actions IAM gives no resource for (ALLOWED_STAR, each with the
  condition it must carry, if any);
- iam:PassRole only on named roles, only with iam:PassedToService;
- sagemaker:CreateTrainingJob alone in its statement, bounded by sagemaker:InstanceTypes
  (ForAllValues:StringLike) and sagemaker:MaxRuntimeInSeconds (NumericLessThanEquals);
- each function has a role of its own;
- each function's role grants exactly the actions infra/operations.toml says its code calls:
  the operations of the adapters it links (less what it leaves out, each with a reason), plus
  what the Lambda service does with the role; tests/it/least_privilege.rs keeps that table
  true to the code.

A parliament finding may be suppressed beside its role in template.yaml, with its reason:

    Metadata:
      parliament:
        ignore:
          - issue: PERMISSIONS_MANAGEMENT_ACTIONS
            actions: [iam:PassRole]
            comment: why this is needed and how it is bounded

A suppression no variant needs is itself a finding (it would hide the next one).

Each environment is audited as configured and once more with its optional settings given (a
KMS key, KmsKeyArn; a webhook, WebhookSecretArn), so that the statements under HasKmsKey and the
resources under HasWebhook are checked too; a resource whose Condition is false in a variant is
not in it. The resolved policies are written to <out>/<env>[-optional]/<role>.json for reading.
Exits 1 on any finding.
"""

import argparse
import copy
import hashlib
import json
import os
import re
import sys
import tomllib

import parliament
from parliament import analyze_policy_string, enhance_finding, override_config

# As `parliament --include-community-auditors` does: their findings' titles and severities.
override_config(
    os.path.join(os.path.dirname(parliament.__file__), "community_auditors", "config_override.yaml")
)

ACCOUNT = "123456789012"
PARTITION = "aws"
# A key ARN and a secret ARN for the variant with the optional settings given (any well-formed
# ones do).
SAMPLE_KMS_KEY = "arn:aws:kms:{region}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SAMPLE_WEBHOOK_SECRET = "arn:aws:secretsmanager:{region}:123456789012:secret:tollgate-webhook-AbCdEf"

# Actions IAM offers no resource-level permission for; Resource "*" is the only choice. The
# value is a condition key the statement must then carry (or None).
ALLOWED_STAR = {
    "ecr:GetAuthorizationToken": None,
    "cloudwatch:PutMetricData": "cloudwatch:namespace",
    "xray:PutTraceSegments": None,
    "xray:PutTelemetryRecords": None,
    "sagemaker:ListModelPackages": None,
}


class Unresolved(Exception):
    pass


def token(*parts: str, length: int = 12, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") -> str:
    """A stable random-looking id (what CloudFormation appends to generated names)."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


class Resolver:
    """Resolves intrinsics the way CloudFormation would, for one stack in one region."""

    NAME_PROPERTY = {
        "AWS::S3::Bucket": "BucketName",
        "AWS::SQS::Queue": "QueueName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::IAM::Role": "RoleName",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::Events::EventBus": "Name",
        "AWS::Events::Rule": "Name",
        "AWS::ECR::Repository": "RepositoryName",
        "AWS::SNS::Topic": "TopicName",
        "AWS::Scheduler::Schedule": "Name",
        "AWS::Cognito::UserPoolDomain": "Domain",
    }

    def __init__(self, template: dict, parameters: dict, region: str, stack: str):
        self.template = template
        self.resources = template.get("Resources", {})
        self.region = region
        self.stack = stack
        self.parameters = {}
        for name, spec in template.get("Parameters", {}).items():
            value = parameters.get(name, spec.get("Default"))
            if value is None:
                raise Unresolved(f"parameter {name} has no value")
            if spec.get("Type") == "CommaDelimitedList":
                value = [v.strip() for v in str(value).split(",")]
            self.parameters[name] = value
        self.conditions = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    # -- conditions ------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = self.truth(self.template["Conditions"][name])
        return self.conditions[name]

    def truth(self, node) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (key, value), = node.items()
            if key == "Fn::Equals":
                a, b = (self.value(v) for v in value)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.truth(value[0])
            if key == "Fn::And":
                return all(self.truth(v) for v in value)
            if key == "Fn::Or":
                return any(self.truth(v) for v in value)
            if key == "Condition":
                return self.condition(value)
        raise Unresolved(f"condition {node!r}")

    # -- names, ids, ARNs ------------------------------------------------------------------------

    def name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        kind = resource["Type"]
        prop = self.NAME_PROPERTY.get(kind)
        if prop and prop in resource.get("Properties", {}):
            return self.value(resource["Properties"][prop])
        generated = f"{self.stack}-{logical_id}-{token(self.stack, logical_id)}"
        if kind == "AWS::S3::Bucket":
            return generated.lower()[:63]
        if kind == "AWS::Logs::LogGroup":
            return f"/aws/generated/{generated}"
        return generated[:64]

    def ref(self, name: str):
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{self.region}:{ACCOUNT}:stack/{self.stack}/"
            "6f1b2a90-0000-11ef-8000-0a1b2c3d4e5f",
        }
        if name == "AWS::NoValue":
            return NOVALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            raise Unresolved(f"Ref {name}")
        kind = self.resources[name]["Type"]
        r, a = self.region, ACCOUNT
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{r}.amazonaws.com/{a}/{self.name(name)}"
        if kind == "AWS::SNS::Topic":
            return self.getatt(name, "TopicArn")
        if kind == "AWS::KMS::Key":
            return self.getatt(name, "KeyId")
        if kind == "AWS::Cognito::UserPool":
            return f"{r}_{token(name, length=9, alphabet='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}"
        if kind == "AWS::Cognito::UserPoolClient":
            return token(name, length=26, alphabet="abcdefghijklmnopqrstuvwxyz0123456789")
        if kind == "AWS::ApiGatewayV2::Api":
            return token(name, length=10, alphabet="abcdefghijklmnopqrstuvwxyz0123456789")
        if kind == "AWS::CloudFront::Distribution":
            return "E" + token(name, length=13)
        return self.name(name)

    def getatt(self, logical_id: str, attribute: str):
        if logical_id not in self.resources:
            raise Unresolved(f"GetAtt {logical_id}.{attribute}")
        kind = self.resources[logical_id]["Type"]
        r, a, p = self.region, ACCOUNT, PARTITION
        name = self.name(logical_id) if kind in self.NAME_PROPERTY or kind in (
            "AWS::S3::Bucket",
        ) else None
        table = {
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:{p}:s3:::{name}",
            ("AWS::S3::Bucket", "RegionalDomainName"): lambda: f"{name}.s3.{r}.amazonaws.com",
            ("AWS::SQS::Queue", "Arn"): lambda: f"arn:{p}:sqs:{r}:{a}:{name}",
            ("AWS::SQS::Queue", "QueueName"): lambda: name,
            ("AWS::DynamoDB::Table", "Arn"): lambda: f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            ("AWS::Lambda::Function", "Arn"): lambda: f"arn:{p}:lambda:{r}:{a}:function:{name}",
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:{p}:iam::{a}:role/{name}",
            ("AWS::IAM::Role", "RoleId"): lambda: "AROA" + token(logical_id, length=17),
            ("AWS::Logs::LogGroup", "Arn"): lambda: f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            ("AWS::Events::EventBus", "Arn"): lambda: f"arn:{p}:events:{r}:{a}:event-bus/{name}",
            ("AWS::Events::EventBus", "Name"): lambda: name,
            ("AWS::Events::Rule", "Arn"): lambda: self.rule_arn(logical_id),
            ("AWS::ECR::Repository", "Arn"): lambda: f"arn:{p}:ecr:{r}:{a}:repository/{name}",
            ("AWS::ECR::Repository", "RepositoryUri"): lambda: f"{a}.dkr.ecr.{r}.amazonaws.com/{name}",
            ("AWS::SNS::Topic", "TopicArn"): lambda: f"arn:{p}:sns:{r}:{a}:{self.name(logical_id)}",
            ("AWS::KMS::Key", "KeyId"): lambda: "0f1e2d3c-" + token(logical_id, length=4).lower() + "-4b5a-8c9d-0e1f2a3b4c5d",
            ("AWS::KMS::Key", "Arn"): lambda: f"arn:{p}:kms:{r}:{a}:key/{self.getatt(logical_id, 'KeyId')}",
            ("AWS::Scheduler::Schedule", "Arn"): lambda: f"arn:{p}:scheduler:{r}:{a}:schedule/default/{name}",
            ("AWS::CloudFront::Distribution", "DomainName"): lambda: "d" + token(logical_id, length=13).lower() + ".cloudfront.net",
        }
        make = table.get((kind, attribute))
        if make is None:
            raise Unresolved(f"GetAtt {logical_id}.{attribute} ({kind})")
        return make()

    def rule_arn(self, logical_id: str) -> str:
        props = self.resources[logical_id].get("Properties", {})
        bus = self.value(props.get("EventBusName", "default"))
        if isinstance(bus, str) and bus.startswith("arn:"):
            bus = bus.rsplit("/", 1)[-1]
        name = self.name(logical_id)
        path = name if bus in (None, "default") else f"{bus}/{name}"
        return f"arn:{PARTITION}:events:{self.region}:{ACCOUNT}:rule/{path}"

    # -- values ----------------------------------------------------------------------------------

    def sub(self, text: str, variables: dict) -> str:
        def replace(match):
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                value = variables[inner]
            elif "." in inner:
                logical_id, attribute = inner.split(".", 1)
                value = self.getatt(logical_id, attribute)
            else:
                value = self.ref(inner)
            if not isinstance(value, str):
                raise Unresolved(f"${{{inner}}} in Fn::Sub is not a string: {value!r}")
            return value

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def value(self, node):
        if isinstance(node, list):
            out = [self.value(v) for v in node]
            return [v for v in out if v is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(logical_id, attribute)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    variables = {k: self.value(v) for k, v in variables.items()}
                else:
                    text, variables = arg, {}
                return self.sub(text, variables)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(v) for v in self.value(items))
            if key == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.condition(name) else no)
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if key == "Fn::Split":
                sep, text = arg
                return self.value(text).split(sep)
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolved(f"{key} {arg!r}")
        out = {}
        for k, v in node.items():
            resolved = self.value(v)
            if resolved is not NOVALUE:
                out[k] = resolved
        return out


class _NoValue:
    def __repr__(self):
        return "AWS::NoValue"


NOVALUE = _NoValue()


def as_list(value):
    return value if isinstance(value, list) else [value]


def own_rules(role: str, document: dict) -> list:
    """This stack's least-privilege rules; each problem as a sentence."""
    problems = []
    for index, statement in enumerate(as_list(document.get("Statement", []))):
        where = f"{role} statement {statement.get('Sid', index)}"
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{where}: NotAction/NotResource")
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        condition = statement.get("Condition", {})
        condition_keys = {k for keys in condition.values() for k in keys}
        for action in actions:
            if "*" in action:
                problems.append(f"{where}: wildcard action {action}")
        if any(r == "*" for r in resources):
            for action in actions:
                if action not in ALLOWED_STAR:
                    problems.append(f"{where}: {action} on Resource \"*\"")
                elif ALLOWED_STAR[action] and ALLOWED_STAR[action] not in condition_keys:
                    problems.append(
                        f"{where}: {action} on \"*\" without a {ALLOWED_STAR[action]} condition"
                    )
            if len(resources) > 1:
                problems.append(f"{where}: \"*\" beside other resources")
        if "iam:PassRole" in actions:
            if condition.get("StringEquals", {}).get("iam:PassedToService") is None:
                problems.append(f"{where}: iam:PassRole without iam:PassedToService")
            if any("*" in r for r in resources):
                problems.append(f"{where}: iam:PassRole on a wildcard resource")
        if "sagemaker:CreateTrainingJob" in actions:
            if len(actions) > 1:
                problems.append(f"{where}: sagemaker:CreateTrainingJob shares its statement")
            if "sagemaker:InstanceTypes" not in condition.get("ForAllValues:StringLike", {}):
                problems.append(f"{where}: CreateTrainingJob without sagemaker:InstanceTypes")
            if "sagemaker:MaxRuntimeInSeconds" not in condition.get("NumericLessThanEquals", {}):
                problems.append(f"{where}: CreateTrainingJob without sagemaker:MaxRuntimeInSeconds")
    return problems


def suppressions_of(logical_id: str, resource: dict) -> list:
    entries = resource.get("Metadata", {}).get("parliament", {}).get("ignore", [])
    for entry in entries:
        if not str(entry.get("comment", "")).strip() or not entry.get("issue"):
            raise Unresolved(f"{logical_id}: a parliament suppression needs an issue and a comment")
    return entries


def suppressed(finding, entries: list, used: set, logical_id: str) -> bool:
    # The community auditors put the actions in the finding's location.
    actions = set()
    for part in (finding.detail, finding.location):
        if isinstance(part, dict):
            actions |= {a.lower() for a in part.get("actions", [])}
    for index, entry in enumerate(entries):
        allowed = {a.lower() for a in entry.get("actions", [])}
        if entry["issue"] == finding.issue and actions and actions <= allowed:
            used.add((logical_id, index))
            return True
    return False


def actions_of(document: dict) -> set:
    """The actions a policy allows (a Deny grants nothing; NotAction is refused by own_rules)."""
    return {
        a
        for s in as_list(document.get("Statement", []))
        if s.get("Effect") == "Allow"
        for a in as_list(s.get("Action", []))
    }


def expected_actions(operations: dict) -> dict:
    """Role logical id -> {action: why} for each function in operations.toml."""
    expected = {}
    for name, function in operations["functions"].items():
        why = {}
        for adapter in function["adapters"]:
            for operation, actions in operations["adapters"][adapter]["operations"].items():
                for action in actions:
                    why.setdefault(action, f"{adapter} calls {operation}")
        # leaves_out may also name a shared runtime action the function has no use for (the
        # data key, for a function that reads and writes no object).
        why.update(operations.get("runtime", {}))
        for action in function.get("leaves_out", {}):
            why.pop(action, None)
        why.update(function.get("runtime", {}))
        expected[function["role"]] = why
    return expected


def least_privilege(granted: dict, operations: dict) -> list:
    """granted: role -> variant -> actions. Each variant grants nothing the code does not call;
    an environment's variants (as configured, and with the optional settings) together grant all it calls."""
    problems = []
    for role, why in expected_actions(operations).items():
        if role not in granted:
            problems.append(f"{role}: infra/operations.toml names it, template.yaml has no such role")
            continue
        for variant, actions in sorted(granted[role].items()):
            for action in sorted(actions - why.keys()):
                problems.append(
                    f"[{variant}] {role} grants {action}, which infra/operations.toml does not "
                    "say its code calls: remove it, or list why"
                )
        by_env = {}
        for variant, actions in granted[role].items():
            by_env.setdefault(variant.removesuffix("-optional"), set()).update(actions)
        for env, actions in sorted(by_env.items()):
            for action in sorted(why.keys() - actions):
                problems.append(
                    f"[{env}] {role} does not grant {action} ({why[action]}): grant it, or list "
                    "it in leaves_out with the reason the function never needs it"
                )
    return problems


def audit(
    template: dict, parameters: dict, region: str, stack: str, out_dir: str, used: set, granted: dict
) -> list:
    resolver = Resolver(template, parameters, region, stack)
    resources = template["Resources"]
    problems = []
    os.makedirs(out_dir, exist_ok=True)

    # One role per function, no managed policies on them.
    # What this variant's conditions leave out is not in it.
    for logical_id in [k for k, r in resources.items() if "Condition" in r]:
        if not resolver.condition(resources[logical_id]["Condition"]):
            del resources[logical_id]

    roles_of = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function":
            role = resource["Properties"].get("Role", {})
            target = role.get("Fn::GetAtt", [None])[0] if isinstance(role, dict) else None
            if target is None:
                problems.append(f"{logical_id}: its Role is not one of this template's roles")
            roles_of.setdefault(target, []).append(logical_id)
    for role, functions in roles_of.items():
        if len(functions) > 1:
            problems.append(f"role {role} is shared by {', '.join(functions)}")

    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            problems.append(f"{logical_id}: {kind} (policies here are inline, on their role)")
            continue
        if kind != "AWS::IAM::Role":
            continue
        props = resource.get("Properties", {})
        entries = suppressions_of(logical_id, resource)
        if props.get("ManagedPolicyArns"):
            problems.append(f"{logical_id}: managed policies {props['ManagedPolicyArns']}")
        for policy in props.get("Policies", []):
            document = resolver.value(policy["PolicyDocument"])
            name = f"{logical_id}.{resolver.value(policy['PolicyName'])}"
            text = json.dumps(document, indent=2)
            with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
                f.write(text + "\n")
            leftover = re.findall(r"\$\{[^}]*\}|Fn::|\"Ref\"", text)
            if leftover:
                problems.append(f"{name}: unresolved {leftover}")
            analyzed = analyze_policy_string(text, include_community_auditors=True)
            for finding in analyzed.findings:
                finding = enhance_finding(finding)
                if suppressed(finding, entries, used, logical_id):
                    print(f"    suppressed beside {logical_id}: {finding.issue} {finding.detail}")
                    continue
                problems.append(
                    f"{name}: parliament {finding.severity} {finding.issue}: {finding.title} "
                    f"{json.dumps(finding.detail, default=str)} {finding.location or ''}"
                )
            problems.extend(own_rules(name, document))
            granted.setdefault(logical_id, set()).update(actions_of(document))
            statements = len(as_list(document.get("Statement", [])))
            print(f"  {name}: {statements} statements")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True, help="samconfig_params.py's JSON")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--operations",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "operations.toml"),
        help="what each function's code calls (default: operations.toml beside this script)",
    )
    parser.add_argument("translated", nargs="+", help="translated-<env>.json")
    args = parser.parse_args()
    with open(args.params, encoding="utf-8") as f:
        configs = json.load(f)
    with open(args.operations, "rb") as f:
        operations = tomllib.load(f)

    problems, used, declared = [], set(), set()
    granted = {}  # role -> variant -> actions
    for path in args.translated:
        env = re.fullmatch(r"translated-(.+)\.json", os.path.basename(path)).group(1)
        config = configs[env]
        with open(path, encoding="utf-8") as f:
            template = json.load(f)
        for logical_id, resource in template["Resources"].items():
            for index, _ in enumerate(
                resource.get("Metadata", {}).get("parliament", {}).get("ignore", [])
            ):
                declared.add((logical_id, index))
        variants = {env: dict(config["parameters"])}
        optional = dict(config["parameters"])
        optional["KmsKeyArn"] = SAMPLE_KMS_KEY.format(region=config["region"])
        optional["WebhookSecretArn"] = SAMPLE_WEBHOOK_SECRET.format(region=config["region"])
        variants[f"{env}-optional"] = optional
        for variant, parameters in variants.items():
            print(f"{variant}:")
            in_variant = {}
            try:
                found = audit(
                    copy.deepcopy(template),
                    parameters,
                    config["region"],
                    config["stack_name"],
                    os.path.join(args.out, variant),
                    used,
                    in_variant,
                )
            except Unresolved as e:
                found = [f"cannot resolve {e}"]
            problems.extend(f"[{variant}] {p}" for p in found)
            for role, actions in in_variant.items():
                granted.setdefault(role, {})[variant] = actions
    problems.extend(least_privilege(granted, operations))
    for logical_id, index in sorted(declared - used):
        problems.append(f"{logical_id}: parliament suppression #{index} matches no finding: remove it")
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
