#!/usr/bin/env python3
"""S3 API test peer helper (moto's server, see scripts/README.md "The S3 peer").

  s3-peer.py wait   --endpoint URL --ca CA --bucket B    wait until moto answers, create B
  s3-peer.py presign-put --endpoint URL --ca CA --bucket B --key K [--sha256-hex H] [--expires S]
  s3-peer.py presign-get --endpoint URL --ca CA --bucket B --key K [--expires S]
  s3-peer.py get    --endpoint URL --ca CA --bucket B --key K --out FILE
  s3-peer.py head   --endpoint URL --ca CA --bucket B --key K   prints the object's JSON
  s3-peer.py put    --endpoint URL --ca CA --bucket B --key K --file FILE
  s3-peer.py list   --endpoint URL --ca CA --bucket B --key PREFIX   one "KEY SIZE" a line
  s3-peer.py auth-setup --endpoint URL --ca CA --bucket B
                    on a moto that checks signatures (INITIAL_NO_AUTH_ACTION_COUNT=9): make
                    a writer (s3:*), a reader (s3:GetObject, s3:ListBucket) and a lister
                    (s3:ListBucket) with their keys, create B as the writer; prints the
                    keys as shell exports

Credentials from the standard AWS environment (AWS_ACCESS_KEY_ID, ...), as the
agent reads them. Runs in the test-env venv (boto3 comes with moto[server]).
"""

import argparse
import base64
import json
import sys
import time

import boto3
from botocore.config import Config


def client(a):
    return boto3.client(
        "s3",
        endpoint_url=a.endpoint,
        verify=a.ca,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def auth_setup(a):
    """The users of the checking moto: its first nine requests are not checked."""
    import json

    anon = dict(aws_access_key_id="setup", aws_secret_access_key="setup")
    # One try a request: a retry of a request moto answered would spend one of the nine.
    once = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=10)
    iam = None
    last = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            iam = boto3.client(
                "iam", endpoint_url=a.endpoint, verify=a.ca, region_name="us-east-1", config=once, **anon
            )
            iam.create_user(UserName="rcdiag-writer")
            break
        except Exception as e:  # not up yet (a refused connection is no request)
            last = e
            iam = None
            time.sleep(0.1)
    if iam is None:
        print(f"s3 peer with auth did not answer: {last}", file=sys.stderr)
        return 1
    iam.create_user(UserName="rcdiag-reader")
    iam.create_user(UserName="rcdiag-lister")
    policies = {
        "rcdiag-writer": ["s3:*"],
        "rcdiag-reader": ["s3:GetObject", "s3:ListBucket"],
        "rcdiag-lister": ["s3:ListBucket"],
    }
    for user, actions in policies.items():
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName="rcdiag-test", PolicyDocument=json.dumps(doc))
    keys = {u: iam.create_access_key(UserName=u)["AccessKey"] for u in policies}
    w = keys["rcdiag-writer"]
    s3 = boto3.client(
        "s3",
        endpoint_url=a.endpoint,
        verify=a.ca,
        region_name="us-east-1",
        aws_access_key_id=w["AccessKeyId"],
        aws_secret_access_key=w["SecretAccessKey"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket=a.bucket)
    for user, var in (("rcdiag-writer", "WRITER"), ("rcdiag-reader", "READER"), ("rcdiag-lister", "LISTER")):
        k = keys[user]
        print(f"export RCDIAG_TEST_S3_AUTH_{var}_KEY_ID={k['AccessKeyId']}")
        print(f"export RCDIAG_TEST_S3_AUTH_{var}_SECRET='{k['SecretAccessKey']}'")
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument(
        "cmd", choices=["wait", "presign-put", "presign-get", "get", "head", "put", "list", "auth-setup"]
    )
    p.add_argument("--endpoint", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--key")
    p.add_argument("--sha256-hex")
    p.add_argument("--expires", type=int, default=900)
    p.add_argument("--out")
    p.add_argument("--file")
    a = p.parse_args()
    if a.cmd == "auth-setup":
        return auth_setup(a)
    s3 = client(a)
    if a.cmd == "wait":
        last = None
        for _ in range(300):
            try:
                s3.create_bucket(Bucket=a.bucket)
                print("READY", a.endpoint, a.bucket, flush=True)
                return 0
            except Exception as e:  # not up yet
                last = e
                time.sleep(0.1)
        print(f"s3 peer did not answer: {last}", file=sys.stderr)
        return 1
    if a.cmd == "list":
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=a.bucket, Prefix=a.key or "")
        for page in pages:
            for o in page.get("Contents", []):
                print(o["Key"], o["Size"])
        return 0
    if not a.key:
        p.error("--key is needed")
    if a.cmd == "presign-put":
        params = {"Bucket": a.bucket, "Key": a.key}
        if a.sha256_hex:
            params["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(a.sha256_hex)).decode()
        print(s3.generate_presigned_url("put_object", Params=params, ExpiresIn=a.expires))
    elif a.cmd == "presign-get":
        print(
            s3.generate_presigned_url(
                "get_object", Params={"Bucket": a.bucket, "Key": a.key}, ExpiresIn=a.expires
            )
        )
    elif a.cmd == "get":
        s3.download_file(a.bucket, a.key, a.out)
    elif a.cmd == "put":
        s3.upload_file(a.file, a.bucket, a.key)
    elif a.cmd == "head":
        h = s3.head_object(Bucket=a.bucket, Key=a.key, ChecksumMode="ENABLED")
        print(
            json.dumps(
                {
                    "size": h["ContentLength"],
                    "checksum_sha256": h.get("ChecksumSHA256"),
                    "etag": h.get("ETag"),
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
