"""Dead letters: records a stage rejects, kept with the reason, never silently dropped."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson


class DeadLetter:
    """Appends ``{time, flow, stage, reason, record}`` JSON lines to one file per stage."""

    def __init__(self, path: Path, flow: str, stage: str) -> None:
        self.path = path
        self.flow = flow
        self.stage = stage
        self.count = 0
        self._lock = threading.Lock()
        self._file: Any = None

    def __call__(self, record: Any, reason: str) -> None:
        line = orjson.dumps(
            {
                "time": time.time(),
                "flow": self.flow,
                "stage": self.stage,
                "reason": reason,
                "record": record,
            },
            default=repr,
        )
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("ab")
            self._file.write(line + b"\n")
            self._file.flush()
            self.count += 1

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
