"""A worker the kill -9 test starts and kills: ``python killable.py import DATA SOURCE`` or ``… analyze DATA CASE_ID``.

``import`` stores the files slowly (a pause per blob, each announced on stdout as ``blob N``) so that the
test can kill it mid-import; ``analyze`` runs an analysis job (the test kills it once the job row shows a
stage). Nothing here is used by radnec itself.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    mode, data, arg = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    from radnec.store import importer
    from radnec.store.store import Store
    from radnec.store.tasks import create_job, run_job

    store = Store(data)
    store.lock(exclusive=False)
    if mode == "import":
        original = importer.write_blob
        count = [0]

        def slow_write(root, stream):  # noqa: ANN001, ANN202
            out = original(root, stream)
            count[0] += 1
            print(f"blob {count[0]}", flush=True)
            time.sleep(0.01)
            return out

        importer.write_blob = slow_write  # type: ignore[assignment]
        case_id = importer.import_case(store, Path(arg))
        print(f"case {case_id}", flush=True)
    else:
        job = create_job(store, "analyze", case_id=int(arg))
        print(f"job {job}", flush=True)
        print(run_job(store, job), flush=True)


if __name__ == "__main__":
    main()
