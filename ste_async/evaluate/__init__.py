"""Evaluation of tool-use models: inference on the STE test set, the study's parser, judges
and totals."""

from __future__ import annotations

from .infer import InferConfig, InferMeta  # the function: ste_async.evaluate.infer.infer
from .judge import JudgeOutcome, judge_llm
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
    "InferConfig",
    "InferMeta",
    "ItemOutcome",
    "Judge",
    "JudgeOutcome",
    "ParsedCall",
    "ScoreCounts",
    "ScoreInputError",
    "ScoreReport",
    "items_needing_llm_judge",
    "judge_llm",
    "llm_verdict",
    "load_batches",
    "load_predictions",
    "parse_prediction",
    "score",
    "score_batches",
    "string_match",
    "validate_predictions",
)
