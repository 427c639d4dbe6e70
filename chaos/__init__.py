"""Chaos suite: crash each Plantroom process in turn under load and account for every reading.

python -m chaos              # the full campaign (a few hundred devices, minutes-long cut)
python -m chaos --reduced    # the short version `make test` runs
python -m chaos --write      # also write the results to docs/reliability.md
"""
