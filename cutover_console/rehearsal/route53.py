"""Route 53 (and the witness's S3 bucket) for the rehearsal world: moto's server on loopback,
reached with boto3 like AWS.

The world's hosted zone is created here with the old values and their long pre-cutover TTL; the
plan's Route 53 actions change it with real boto3 calls; the authoritative DNS server re-reads it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .dnsservers import RRKey

# moto accepts any credentials; they are set for this process only, never written anywhere.
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "rehearsal",
    "AWS_SECRET_ACCESS_KEY": "rehearsal",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Route53World:
    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.endpoint = f"http://{address}:{port}"
        self._server: Any = None
        self.zone_id = ""

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request to stderr, which would draw over the console
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        for name, value in _FAKE_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        self._server = ThreadedMotoServer(ip_address=self.address, port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client("route53", region_name="us-east-1", endpoint_url=self.endpoint)

    def create_zone(self, zone: str, records: list[tuple[str, str, int, list[str]]]) -> str:
        """The hosted zone with (name, type, ttl, values) records, as it stands before the
        cutover."""
        client = self.client()
        answer = client.create_hosted_zone(Name=zone + ".", CallerReference=f"rehearsal-{zone}")
        self.zone_id = str(answer["HostedZone"]["Id"])
        client.change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": name,
                            "Type": rtype,
                            "TTL": ttl,
                            "ResourceRecords": [{"Value": v} for v in values],
                        },
                    }
                    for name, rtype, ttl, values in records
                ]
            },
        )
        return self.zone_id

    def create_witness_bucket(self, bucket: str) -> None:
        """The cutover's witness: an S3 bucket with Object Lock (versioning on), as on AWS."""
        import boto3

        client = boto3.client("s3", region_name="us-east-1", endpoint_url=self.endpoint)
        client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)

    def read_zone(self, client: Any) -> dict[RRKey, tuple[int, list[str]]]:
        """Every record set of the zone except Route 53's own SOA and NS."""
        out: dict[RRKey, tuple[int, list[str]]] = {}
        paginator = client.get_paginator("list_resource_record_sets")
        for page in paginator.paginate(HostedZoneId=self.zone_id):
            for rrset in page["ResourceRecordSets"]:
                if rrset["Type"] in ("SOA", "NS"):
                    continue
                key = (rrset["Name"].rstrip(".").lower(), rrset["Type"])
                values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
                out[key] = (int(rrset.get("TTL", 300)), values)
        return out
