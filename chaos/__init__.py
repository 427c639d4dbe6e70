"""Chaos suite: crash each Plantroom process in turn under load and account for every reading.

Besides one crash at a time: a cut and a slow, lossy edge link, two crashes at once, full
disks under the edge and gateway buffers, and PostgreSQL killed under the cloud.

python -m chaos              # the full campaign (a few hundred devices, minutes-long cut)
python -m chaos --reduced    # the short version `make test` runs
python -m chaos --write      # also write the results to docs/reliability.md
"""
