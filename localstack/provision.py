"""Creates one set of Tollgate's AWS resources in a stand-in (or any endpoint): the data bucket
(versioned, encrypted, public access blocked) whose uploads under incoming/ notify the ingest
queue, the catalog table (its definition is shared/aws/table.json), the event bus with a rule that
copies every Tollgate event to a queue, so a test or a person can see what was published.

Prints the names as one JSON object. Safe to run twice: what exists is left as it is.
"""

import argparse
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def exists(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:4566")
    parser.add_argument("--prefix", default="tollgate", help="names start with it")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    args = parser.parse_args()

    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=args.region,
    )
    client = lambda service: session.client(service, endpoint_url=args.endpoint)  # noqa: E731
    s3, sqs, ddb, events = client("s3"), client("sqs"), client("dynamodb"), client("events")
    p = args.prefix
    names = {
        "bucket": f"{p}-data",
        "table": f"{p}-catalog",
        "bus": f"{p}-bus",
        "ingest_queue": f"{p}-ingest",
        "events_queue": f"{p}-events",
        "region": args.region,
        "endpoint": args.endpoint,
    }

    # Queues: the ingest queue (S3 notifications) with a dead-letter queue, and the events tap.
    urls, arns = {}, {}
    for name in [f"{p}-ingest-dlq", names["ingest_queue"], names["events_queue"]]:
        attributes = {"VisibilityTimeout": "900"}
        if name == names["ingest_queue"]:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[f"{p}-ingest-dlq"], "maxReceiveCount": "5"}
            )
        urls[name] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arns[name] = sqs.get_queue_attributes(QueueUrl=urls[name], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    names["ingest_queue_url"] = urls[names["ingest_queue"]]
    names["events_queue_url"] = urls[names["events_queue"]]

    bucket = names["bucket"]
    try:
        if args.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": args.region}
            )
    except ClientError as e:
        if not exists(e, "BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "tollgate-ingest",
                    "QueueArn": arns[names["ingest_queue"]],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ]
        },
    )

    with open(os.path.join(ROOT, "shared", "aws", "table.json"), encoding="utf-8") as f:
        table = json.load(f)
    try:
        ddb.create_table(TableName=names["table"], **table)
    except ClientError as e:
        if not exists(e, "ResourceInUseException"):
            raise

    try:
        events.create_event_bus(Name=names["bus"])
    except ClientError as e:
        if not exists(e, "ResourceAlreadyExistsException"):
            raise
    events.put_rule(
        Name=f"{p}-all-events",
        EventBusName=names["bus"],
        EventPattern=json.dumps({"source": ["tollgate"]}),
        State="ENABLED",
    )
    events.put_targets(
        Rule=f"{p}-all-events",
        EventBusName=names["bus"],
        Targets=[{"Id": "events-queue", "Arn": arns[names["events_queue"]]}],
    )

    json.dump(names, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
