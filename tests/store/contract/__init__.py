"""The Store contract: every promise of ``cadenza.store.protocol``, on every backend.

Each test takes the ``store`` fixture (tests/conftest.py), so it runs once on
SQLite and once on PostgreSQL. Modules are grouped by sub-protocol.
"""
