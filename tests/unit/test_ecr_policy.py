import json

from components.build_farm import host_policy
from components.container_registry import lifecycle_policy


def test_untagged_expire_first_then_one_keep_rule_per_prefix():
    rules = json.loads(lifecycle_policy(["dev_", "prod_"], 7))["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2, 3]
    assert rules[0]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 1,
    }
    for rule, prefix in zip(rules[1:], ["dev_", "prod_"], strict=True):
        # ECR selects images carrying every prefix of a list: one prefix per rule
        assert rule["selection"]["tagPrefixList"] == [prefix]
        assert rule["selection"]["countNumber"] == 7


def test_host_policy_names_one_bucket_prefix_and_one_secret():
    doc = json.loads(host_policy("apk-bucket", "cn-hangzhou", "farm-token"))
    resources = [r for s in doc["Statement"] for r in s["Resource"]]
    assert resources == ["acs:oss:*:*:apk-bucket/apks/*", "acs:kms:cn-hangzhou:*:secret/farm-token"]
