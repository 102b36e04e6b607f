DROP TABLE roster_snapshots;
