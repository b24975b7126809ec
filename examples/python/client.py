#!/usr/bin/env python3
"""Talk to a Strata server from Python: count a segment, stream its members
into a pyarrow Table, and read an error's details.

    pip install -r requirements.txt
    strata                                   # serves the demo dataset
    python client.py --server 127.0.0.1:50051 "consent_email AND count(purchase WITHIN 90d) >= 2"

Stubs are generated at run time from the .proto files (proto/ in the
repository, or --proto DIR), so there is nothing to check in or keep in sync.
"""

import argparse
import importlib
import os
import sys
import tempfile
import time

import grpc
import pyarrow as pa
import pyarrow.ipc as ipc

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))


def load_stubs(proto_dir, *modules):
    """Compiles strata/v1/*.proto with grpcio-tools into a temp dir and
    imports the generated `modules` (e.g. "segment_pb2")."""
    from grpc_tools import protoc
    import grpc_tools

    out = tempfile.mkdtemp(prefix="strata-stubs-")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [
        os.path.join("strata", "v1", f)
        for f in sorted(os.listdir(os.path.join(proto_dir, "strata", "v1")))
        if f.endswith(".proto")
    ]
    rc = protoc.main(
        ["protoc", f"-I{proto_dir}", f"-I{well_known}",
         f"--python_out={out}", f"--grpc_python_out={out}", *files]
    )
    if rc != 0:
        sys.exit(f"protoc failed on {proto_dir}")
    sys.path.insert(0, out)
    return [importlib.import_module(f"strata.v1.{m}") for m in modules]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("segment", nargs="?", default="consent_email AND count(purchase) >= 1")
    p.add_argument("--server", default=os.environ.get("STRATA_SERVER", "127.0.0.1:50051"),
                   help="host:port of `strata serve`")
    p.add_argument("--token", default=os.environ.get("STRATA_TOKEN"), help="bearer token, if the server wants one")
    p.add_argument("--proto", default=DEFAULT_PROTO, help="directory holding strata/v1/*.proto")
    p.add_argument("--columns", default="email,country", help="profile columns to fetch with the ids")
    a = p.parse_args()

    pb, rpc, common = load_stubs(a.proto, "segment_pb2", "segment_pb2_grpc", "common_pb2")
    channel = grpc.insecure_channel(
        a.server,
        options=[("grpc.max_receive_message_length", 64 << 20)],
        compression=grpc.Compression.Gzip,
    )
    stub = rpc.SegmentServiceStub(channel)
    metadata = [("authorization", f"Bearer {a.token}")] if a.token else []
    segment = common.Segment(dsl=a.segment)

    # 1. Count: answered from the server's cache when asked again.
    r = stub.Count(pb.CountRequest(segment=segment), metadata=metadata, timeout=60)
    print(f"count: {r.count} of {r.total_profiles} profiles "
          f"(as of {r.as_of.ToJsonString()}, {r.elapsed.ToMilliseconds()} ms, cached={r.cached})")

    # 2. Members, ids only: the fastest way to get a big audience.
    t = time.perf_counter()
    ids = []
    for batch in stub.Members(pb.MembersRequest(segment=segment), metadata=metadata, timeout=600):
        ids.append(pa.array(batch.profile_ids, type=pa.int64()))
    ids = pa.chunked_array(ids, type=pa.int64())
    print(f"members: {len(ids)} ids in {time.perf_counter() - t:.2f}s")
    assert len(ids) == r.count, "stream did not deliver every member"

    # 3. Members with columns: each batch carries an Arrow IPC stream.
    columns = [c for c in a.columns.split(",") if c]
    batches = []
    last_cursor = ""
    for batch in stub.Members(pb.MembersRequest(segment=segment, columns=columns, batch_size=50_000),
                              metadata=metadata, timeout=600):
        batches.extend(ipc.open_stream(batch.arrow_ipc))
        last_cursor = batch.cursor  # resume from here if the connection drops
    table = pa.Table.from_batches(batches) if batches else pa.table({"profile_id": pa.array([], pa.int64())})
    print(f"table: {table.num_rows} rows x {table.num_columns} columns {table.column_names}")
    print(table.slice(0, 5).to_pylist())
    assert table.num_rows == r.count

    # 4. Errors say what to fix: INVALID_ARGUMENT with google.rpc.BadRequest.
    try:
        stub.Count(pb.CountRequest(segment=common.Segment(dsl="count(purchse) >= 1")), metadata=metadata)
    except grpc.RpcError as e:
        print(f"error: {e.code().name}")
        try:
            from grpc_status import rpc_status
            from google.rpc import error_details_pb2

            status = rpc_status.from_call(e)
            for detail in status.details if status else []:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    br = error_details_pb2.BadRequest()
                    detail.Unpack(br)
                    for v in br.field_violations:
                        print(f"  {v.field}: {v.description}")
        except ImportError:
            print(e.details())
    return 0


if __name__ == "__main__":
    sys.exit(main())
