"""Replay checks for users' tests: see ``cadenza.engine.replay``."""

from __future__ import annotations

from cadenza.engine.replay import check_replay, replay_state

__all__ = ["check_replay", "replay_state"]
