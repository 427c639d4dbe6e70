"""Cloud processes sharing the work: rule evaluation partitioned by site through leases in the
database (`leases`), shared out fairly (`allocator`), kept by a heartbeat (`coordinator`), each
leased site evaluated by its own consumer (`evaluation`). See docs/deploy.md, "Past one
machine"."""
