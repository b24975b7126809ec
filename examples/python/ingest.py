#!/usr/bin/env python3
"""Stream events into a Strata server from Python: an Arrow table sent as an
Arrow IPC stream through IngestService.AppendEvents, committed as one
dataset version; a retry with the same idempotency key is not applied twice.

    pip install -r requirements.txt
    strata serve --data shop --token adm        # the admin token may write
    python ingest.py --server 127.0.0.1:50051 --token adm --customer web-7 --purchases 3

The events are `--purchases` purchases of 9.99 by `--customer` on the last
days before the dataset's as_of. Prints the write's result and the count of
`external_id = '<customer>' AND count(purchase) >= <purchases>` afterwards.
"""

import argparse
import datetime as dt
import io
import os

import grpc
import pyarrow as pa
import pyarrow.ipc as ipc

from client import DEFAULT_PROTO, load_stubs

CHUNK = 256 << 10  # bytes per message, well under the server's request size limit


def events(customer, purchases, end):
    times = [end - dt.timedelta(days=k + 1, hours=3) for k in range(purchases)]
    return pa.table({
        "customer": pa.array([customer] * purchases),
        "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
        "kind": pa.array(["purchase"] * purchases),
        "total": pa.array([9.99] * purchases, pa.float64()),
    })


def ipc_bytes(table):
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default=os.environ.get("STRATA_SERVER", "127.0.0.1:50051"))
    p.add_argument("--token", default=os.environ.get("STRATA_TOKEN"), help="the server's admin token")
    p.add_argument("--proto", default=DEFAULT_PROTO, help="directory holding strata/v1/*.proto")
    p.add_argument("--customer", default="py-ingest-1")
    p.add_argument("--purchases", type=int, default=3)
    p.add_argument("--end", default="2026-01-01", help="purchases fall on the days before this date")
    p.add_argument("--key", default=None, help="idempotency key (default: from customer and count)")
    a = p.parse_args()

    ingest_pb, ingest_rpc, seg_pb, seg_rpc, common = load_stubs(
        a.proto, "ingest_pb2", "ingest_pb2_grpc", "segment_pb2", "segment_pb2_grpc", "common_pb2")
    channel = grpc.insecure_channel(a.server)
    metadata = [("authorization", f"Bearer {a.token}")] if a.token else []
    end = dt.datetime.fromisoformat(a.end).replace(tzinfo=dt.timezone.utc)
    data = ipc_bytes(events(a.customer, a.purchases, end))
    options = ingest_pb.AppendOptions(
        idempotency_key=a.key or f"{a.customer}-{a.purchases}",
        format=ingest_pb.INPUT_FORMAT_ARROW_IPC,
        profile_id_column="customer",
        time_column="ts",
        role_columns={"event_type": "kind", "amount": "total"},
    )

    def messages():
        for i in range(0, max(len(data), 1), CHUNK):
            message = ingest_pb.AppendEventsRequest(data=data[i:i + CHUNK])
            if i == 0:
                message.options.CopyFrom(options)
            yield message

    stub = ingest_rpc.IngestServiceStub(channel)
    for attempt in ("first", "retry"):
        r = stub.AppendEvents(messages(), metadata=metadata, timeout=120)
        print(f"{attempt}: version {r.version} ({r.dataset_version}), already_applied={r.already_applied}, "
              f"events_added={r.events_added}, profiles_created={r.profiles_created}")

    segment = common.Segment(dsl=f"external_id = '{a.customer}' AND count(purchase) >= {a.purchases}")
    n = seg_rpc.SegmentServiceStub(channel).Count(seg_pb.CountRequest(segment=segment), metadata=metadata, timeout=60)
    print(f"count: {n.count} ({n.dataset_version})")


if __name__ == "__main__":
    main()
