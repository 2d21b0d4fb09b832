"""The classic audit in SQL, run by DuckDB: per host and hour the smallest and largest
sequence number, the count and the count of distinct numbers, over a file of records
(heartbeats excluded). Prints one JSON line per (host, hour), sorted.

The peer benches/compare and benches/compare-auditor measure edgeship-audit against:
`python classic-sql.py RECORDS` with a python that has duckdb (see `duckdb_python` in
benches/lib.sh)."""
import json
import sys

import duckdb

SQL = """
SELECT hostname, substr(dt, 1, 13) AS hour,
       min(sequence), max(sequence), count(*), count(DISTINCT sequence)
FROM read_json(?, format = 'newline_delimited',
               columns = {'hostname': 'VARCHAR', 'sequence': 'UBIGINT',
                          'dt': 'VARCHAR', 'heartbeat': 'BOOLEAN'})
WHERE heartbeat IS NULL
GROUP BY 1, 2
ORDER BY 1, 2
"""

for host, hour, low, high, count, distinct in duckdb.connect().execute(SQL, [sys.argv[1]]).fetchall():
    print(json.dumps({"hostname": host, "hour": hour, "min": low, "max": high,
                      "count": count, "distinct": distinct}))
