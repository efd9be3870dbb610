"""prod keeps its workflow history in PostgreSQL on RDS; dev only when asked."""

import pytest

from components.workflow_archive import CREDENTIALS_SECRET, DATABASE
from offline.runner import run_offline
from railyard.config import ConfigError
from tests.harness import plan_for

ARCHIVE = "railyard:eks:WorkflowArchive"
DB = "aws:rds/instance:Instance"


def chart_persistence(plan):
    (chart,) = plan.of_type("kubernetes:helm.sh/v3:Release", under="railyard:eks:ArgoWorkflows")
    return chart, chart.inputs["values"]["controller"].get("persistence")


def test_prod_archives_every_workflow_to_an_encrypted_private_database():
    plan = plan_for("prod")
    db = plan.one(DB, under=ARCHIVE)
    i = db.inputs
    assert (i["engine"], i["engineVersion"], i["storageType"]) == ("postgres", "17", "gp3")
    assert i["storageEncrypted"] is True and i["publiclyAccessible"] is False
    assert i["deletionProtection"] is True and i["skipFinalSnapshot"] is False
    assert i["finalSnapshotIdentifier"] and i["multiAz"] is True
    assert i["backupRetentionPeriod"] == 7
    assert db.is_secret("password")
    subnets = plan.one("aws:rds/subnetGroup:SubnetGroup", under=ARCHIVE)
    private = sorted(s.id for s in plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name)
    assert sorted(subnets.inputs["subnetIds"]) == private
    assert i["dbSubnetGroupName"] == subnets.outputs["name"]


def test_only_the_clusters_nodes_reach_the_database():
    plan = plan_for("prod")
    db = plan.one(DB, under=ARCHIVE)
    group = plan.one("aws:ec2/securityGroup:SecurityGroup", under=ARCHIVE)
    assert db.inputs["vpcSecurityGroupIds"] == [group.id]
    assert not group.inputs.get("ingress")  # rules are their own resources, below
    rules = plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", under=ARCHIVE)
    cluster_sg = plan.one("eks:index:Cluster").outputs["clusterSecurityGroupId"]
    assert [
        (r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"], r.inputs["fromPort"])
        for r in rules
    ] == [(group.id, cluster_sg, 5432)]
    assert "cidrIpv4" not in rules[0].inputs


def test_argo_reads_its_credentials_and_archives_with_a_ttl():
    plan = plan_for("prod")
    db = plan.one(DB, under=ARCHIVE)
    chart, persistence = chart_persistence(plan)
    assert persistence["archive"] is True and persistence["nodeStatusOffLoad"] is True
    assert persistence["archiveTTL"] == "90d"
    pg = persistence["postgresql"]
    assert (pg["host"], pg["port"], pg["database"]) == (db.outputs["address"], 5432, DATABASE)
    assert (pg["ssl"], pg["sslMode"]) == (True, "require")
    assert pg["userNameSecret"] == {"name": CREDENTIALS_SECRET, "key": "username"}
    assert pg["passwordSecret"] == {"name": CREDENTIALS_SECRET, "key": "password"}
    (secret,) = [
        s
        for s in plan.of_type("kubernetes:core/v1:Secret")
        if s.inputs["metadata"]["name"] == CREDENTIALS_SECRET
    ]
    assert secret.inputs["metadata"]["namespace"] == chart.inputs["namespace"] == "argo"
    assert secret.is_secret("stringData")
    assert secret.inputs["stringData"]["username"] == db.inputs["username"]
    assert secret.inputs["stringData"]["password"] == db.inputs["password"]
    assert secret.urn in chart.dependencies and db.urn in chart.dependencies


def test_dev_has_no_archive_unless_asked():
    _, persistence = chart_persistence(plan_for("dev"))
    assert persistence is None and not plan_for("dev").of_type(DB)
    plan = run_offline("dev", {"railyard:argoArchive": "on", "railyard:argoArchiveTtl": "14d"})
    db = plan.one(DB)
    assert db.inputs["deletionProtection"] is False and db.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db.inputs and db.inputs["multiAz"] is False
    assert chart_persistence(plan)[1]["archiveTTL"] == "14d"
    assert not run_offline("prod", {"railyard:argoArchive": "off"}).of_type(DB)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("argoArchive", "yes"),
        ("argoArchiveTtl", "90 days"),
        ("argoArchiveStorageGib", 10),
        ("argoArchiveInstanceClass", "t4g.micro"),
    ],
)
def test_bad_archive_config_names_the_key(key, value):
    with pytest.raises(ConfigError, match=f"railyard:{key}"):
        run_offline("prod", {f"railyard:{key}": value})
