"""Cadenza workers."""

from __future__ import annotations
