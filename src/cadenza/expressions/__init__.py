"""Cadenza expressions."""

from __future__ import annotations
