"""BenchPress reports: read the SQLite results database and turn it into plots, an HTML report (report.py) and
noise-aware comparisons between runs (compare.py). Reads only the database, never the C++ code (architecture.md).
"""
