"""Evaluation of tool-use predictions: the STE study's parser, judges and totals."""

from __future__ import annotations

from .score import (
    JUDGES,
    STRING_MATCH_APIS,
    ItemOutcome,
    Judge,
    ParsedCall,
    ScoreCounts,
    ScoreInputError,
    ScoreReport,
    items_needing_llm_judge,
    llm_verdict,
    load_batches,
    load_predictions,
    parse_prediction,
    score,
    score_batches,
    string_match,
    validate_predictions,
)

__all__ = (
    "JUDGES",
    "STRING_MATCH_APIS",
    "ItemOutcome",
    "Judge",
    "ParsedCall",
    "ScoreCounts",
    "ScoreInputError",
    "ScoreReport",
    "items_needing_llm_judge",
    "llm_verdict",
    "load_batches",
    "load_predictions",
    "parse_prediction",
    "score",
    "score_batches",
    "string_match",
    "validate_predictions",
)
