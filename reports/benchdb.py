"""Reading a BenchPress results database (schema: harness/core/store_schema.cpp, documented in results/README.md).

Every query selects rows into dicts keyed by column name and reads optional columns with .get(), so a column added
by a later schema migration does not break the reader, and one it lacks (an older database) degrades gracefully.
The database is opened read-only: reports and comparisons never modify results.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import statistics
import urllib.parse
from dataclasses import dataclass, field

# Text columns holding JSON (as the store writes them).
JSON_COLUMNS = {"params", "task_options", "dataset_files", "protocol_params", "labels", "detail", "stack"}
REQUIRED_TABLES = ("runs", "configurations", "results")


class DatabaseError(Exception):
    """A problem with the user's input (missing file, unknown run): the entry points exit with code 2."""


def labels_key(labels) -> str:
    """Canonical text of a labels object, used to line up (metric, labels) series."""
    return json.dumps(labels or {}, sort_keys=True, separators=(",", ":"))


def labels_text(labels) -> str:
    """'context=2048, depth=0.5' (empty for no labels)."""
    return ", ".join(f"{k}={_scalar_text(v)}" for k, v in sorted((labels or {}).items()))


def params_text(params) -> str:
    """Compact text of canonical parameters: 'bits=4, group=32' ('' for none)."""
    if not isinstance(params, dict):
        return str(params or "")
    return ", ".join(f"{k}={_scalar_text(v)}" for k, v in sorted(params.items()))


def _scalar_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _parse_json(text):
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _row_dict(cursor, row) -> dict:
    out = {}
    for (name, *_), value in zip(cursor.description, row):
        out[name] = _parse_json(value) if name in JSON_COLUMNS else value
    return out


@dataclass
class Series:
    """One (metric, labels) of one configuration: every stored repetition, and the stored summary when there is one."""
    metric: str
    labels: dict
    unit: str
    values: list = field(default_factory=list)
    summary: dict | None = None
    # Which way is better, as the task that reported it declares ("lower", "higher", "none"); "none" for rows
    # written before schema version 4 that no bench has migrated, and for metrics no registered task declares.
    better: str = "none"

    @property
    def key(self):
        return (self.metric, labels_key(self.labels))

    @property
    def n(self) -> int:
        return len(self.values)

    def center(self) -> float:
        """The stored median for repeated measurements, else the single value."""
        if self.summary and self.summary.get("median") is not None:
            return float(self.summary["median"])
        return float(statistics.median(self.values)) if self.values else math.nan


class Configuration:
    """A configuration row with its results grouped into Series; per-item results are loaded on first use."""

    def __init__(self, row: dict, db: "BenchDB"):
        self.row = row
        self.series: dict = {}
        self._db = db
        self._items = None

    def __getattr__(self, name):
        # Column access by name (cfg.method, cfg.task, ...); a column this database lacks reads as None.
        if name.startswith("_") or name in ("row", "series"):
            raise AttributeError(name)
        return self.row.get(name)

    @property
    def params(self) -> dict:
        p = self.row.get("params")
        return p if isinstance(p, dict) else {}

    @property
    def params_shown(self) -> str:
        """The parameters for tables: 'bits=4, group=32', or per member for a stack of several methods
        ('w-rtn: bits=4, group=64; kivi: bits=2, ...')."""
        stack = self.row.get("stack")
        if isinstance(stack, list) and len(stack) > 1:
            return "; ".join(f"{m.get('method')}: {params_text(m.get('params'))}" for m in stack)
        return params_text(self.params)

    @property
    def task_options(self) -> dict:
        p = self.row.get("task_options")
        return p if isinstance(p, dict) else {}

    @property
    def variant(self) -> str:
        """The method with the parameters the suite set, e.g. 'kv-uniform(bits=4,group=32)': one line in a plot.

        The plan label ('task(...) / method(...)') names only the parameters the suite chose, which keeps legends
        readable; without a label, every canonical parameter is spelled out."""
        label = self.row.get("label") or ""
        if " / " in label:
            return label.rsplit(" / ", 1)[1]
        p = params_text(self.params)
        return f"{self.method}({p})" if p else str(self.method)

    @property
    def options_text(self) -> str:
        return params_text(self.task_options)

    @property
    def comparison_key(self) -> str:
        key = self.row.get("comparison_key")
        if key:
            return key
        # Databases from before the comparison_key column (schema version 1): hash the same identity fields.
        fields = [self.row.get(k) for k in ("model_sha256", "model_storage", "method", "params", "task", "protocol",
                                            "protocol_version", "protocol_params", "dataset_files")]
        return "py:" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    @property
    def method_key(self):
        """What the latency task's results are matched on: same model (and storage) and the same stack of methods
        with the same parameters (databases before schema version 3 have one method and its parameters)."""
        stack = self.row.get("stack")
        methods = json.dumps(stack, sort_keys=True) if stack else f"{self.method}|{labels_key(self.params)}"
        return (self.row.get("model_sha256"), self.row.get("model_storage"), methods)

    def get(self, metric: str, labels=None) -> Series | None:
        return self.series.get((metric, labels_key(labels or {})))

    def metrics(self) -> list:
        return sorted({m for m, _ in self.series})

    def items(self) -> dict:
        """{key: (score, detail)} of this configuration's per-item results."""
        if self._items is None:
            self._items = self._db.items(self.id)
        return self._items


class BenchDB:
    def __init__(self, path: str):
        self.path = path
        if not os.path.isfile(path):
            raise DatabaseError(f"{path}: no results database here; expected the --db of an earlier `bench run`")
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        try:
            self.conn = sqlite3.connect(uri, uri=True)
            self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            # A WAL database in a read-only directory cannot create its -shm file: read it as immutable instead.
            self.conn = sqlite3.connect(uri.replace("mode=ro", "immutable=1"), uri=True)
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise DatabaseError(f"{path}: not a readable SQLite database ({e})") from e
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise DatabaseError(f"{path}: not a BenchPress results database (no table {', '.join(missing)})")
        self.tables = tables
        self.schema_version = self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self):
        self.conn.close()

    def _query(self, sql: str, args=()) -> list:
        cur = self.conn.execute(sql, args)
        return [_row_dict(cur, r) for r in cur.fetchall()]

    def runs(self) -> list:
        """Every run, newest first, with counts of configurations by status."""
        runs = self._query("SELECT * FROM runs ORDER BY id DESC")
        counts = {}
        for r in self._query("SELECT run_id, status, COUNT(*) AS n FROM configurations GROUP BY run_id, status"):
            counts.setdefault(r["run_id"], {})[r["status"]] = r["n"]
        for r in runs:
            r["config_counts"] = counts.get(r["id"], {})
        return runs

    def run(self, run_id: int) -> dict:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        if not rows:
            ids = [r["id"] for r in self._query("SELECT id FROM runs ORDER BY id")]
            raise DatabaseError(f"{self.path}: no run with id {run_id}; expected one of {ids} (`bench list runs`)")
        return rows[0]

    def latest_run_id(self) -> int:
        row = self.conn.execute("SELECT MAX(id) FROM runs").fetchone()
        if row[0] is None:
            raise DatabaseError(f"{self.path}: the database holds no runs yet")
        return int(row[0])

    def configurations(self, run_id: int) -> list:
        """The run's configurations in plan order, each with its results and summaries grouped into Series."""
        configs = [Configuration(r, self)
                   for r in self._query("SELECT * FROM configurations WHERE run_id = ? ORDER BY plan_index", (run_id,))]
        by_id = {c.id: c for c in configs}
        rows = self._query(
            "SELECT r.* FROM results r JOIN configurations c ON c.id = r.configuration_id WHERE c.run_id = ? "
            "ORDER BY r.configuration_id, r.metric, r.labels, r.repetition", (run_id,))
        for r in rows:
            cfg = by_id[r["configuration_id"]]
            labels = r.get("labels") if isinstance(r.get("labels"), dict) else {}
            key = (r["metric"], labels_key(labels))
            s = cfg.series.get(key)
            if s is None:
                s = cfg.series[key] = Series(r["metric"], labels, r.get("unit") or "", better=r.get("better") or "none")
            s.values.append(float(r["value"]))
        if "summaries" in self.tables:
            for r in self._query("SELECT s.* FROM summaries s JOIN configurations c ON c.id = s.configuration_id "
                                 "WHERE c.run_id = ?", (run_id,)):
                labels = r.get("labels") if isinstance(r.get("labels"), dict) else {}
                s = by_id[r["configuration_id"]].series.get((r["metric"], labels_key(labels)))
                if s is not None:
                    s.summary = r
        return configs

    def items(self, config_id: int) -> dict:
        if "items" not in self.tables:
            return {}
        cur = self.conn.execute("SELECT key, score, detail FROM items WHERE configuration_id = ?", (config_id,))
        return {k: (float(s), _parse_json(d)) for k, s, d in cur.fetchall()}


def resolve_runs(db: BenchDB, run_ids) -> list:
    """The given run ids (validated), or the newest run when none are given."""
    if not run_ids:
        return [db.latest_run_id()]
    out = []
    for r in run_ids:
        db.run(int(r))
        if int(r) not in out:
            out.append(int(r))
    return out
