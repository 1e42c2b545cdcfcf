"""Print what a demo run left behind: rows in the table, rejected lines in the dead letter."""

import sqlite3
import sys
from pathlib import Path

database, table, dead_letter = sys.argv[1:4]
with sqlite3.connect(database) as db:
    rows, symbols = db.execute(f"SELECT COUNT(*), COUNT(DISTINCT symbol) FROM {table}").fetchone()
rejected = len(Path(dead_letter).read_text().splitlines()) if Path(dead_letter).exists() else 0
print(f"{database}: {rows} rows in '{table}' ({symbols} symbols); {rejected} lines rejected")
print(f"rejected lines and their reasons: {dead_letter}")
