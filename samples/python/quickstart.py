"""The quickstart from Python: run a pipeline file with a transform that adds
customers.full_name, computed with pyarrow on whole batches.

    python samples/python/quickstart.py samples/pipelines/quickstart.yaml [--fresh]
"""
import sys

import pyarrow as pa
import pyarrow.compute as pc

import datasync


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(f"usage: {argv[0]} PIPELINE.yaml [--fresh]", file=sys.stderr)
        return 2
    with datasync.Pipeline.from_file(argv[1]) as pipeline:

        @pipeline.transform("customers")
        def add_full_name(batch: pa.RecordBatch) -> pa.RecordBatch:
            full = pc.binary_join_element_wise(batch["first_name"], batch["last_name"], " ")
            return batch.append_column("full_name", full)

        metrics = pipeline.run(fresh="--fresh" in argv)
    print(f"copied {metrics['rows_written']} rows of {metrics['tables_total']} tables")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
