"""One STE episode: imagine, act, reflect, for each trial, against one API.

The conversation carried between trials is the short-term memory. What the model is sent and
what the conversation keeps differ in one place, as in the study: the imagination prompt is
sent with the long-term memory inserted, but kept in the conversation without it, so the
conversation prefix stays the same from call to call.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Protocol

from .. import prompts
from ..catalog import ApiSpec
from ..config import ExploreConfig
from ..errors import RequestRejectedError
from ..ids import episode_id, request_seed
from ..llm import Completion, Message
from ..llm.grammar import query_grammar, react_grammar
from ..parsing import Call, Feedback, Final, parse_react, read_reflection, reference_reflection
from ..records import SCHEMA_VERSION, CallStats, EpisodeRecord, Step, Trial
from ..tools import ToolOutcome, render_observation
from .memory import MemoryShard

__all__ = ("Llm", "Tools", "run_episode")

IMAGINE_STOP = "Thought:"
_QUERY_GRAMMAR = query_grammar()
_REFLECT_GRAMMAR = 'root ::= ("Yes" | "No") [^\\n]{0,200}\n'


@functools.cache
def _step_grammar(api_names: tuple[str, ...], first: bool) -> str:
    # a trial's first step must call the API: a small model otherwise often answers at
    # once, and a trial without a call teaches nothing
    return react_grammar(api_names, allow_final=not first)

ACT_STOP = "Observation:"
REFLECT_STEP = 1000  # the seed slot of the reflection call, after every act step


class Llm(Protocol):
    async def complete(
        self,
        messages: list[Message],
        *,
        stop: str | None,
        seed: int,
        temperature: float,
        max_tokens: int,
        affinity: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Completion: ...


class Tools(Protocol):
    async def call(self, api: str, args: dict[str, Any] | str, context: str = ""
                   ) -> ToolOutcome: ...


def _stats(c: Completion) -> CallStats:
    return CallStats(
        prompt_tokens=c.prompt_tokens,
        completion_tokens=c.completion_tokens,
        latency_s=round(c.latency_s, 6),
        attempts=c.attempts,
        finish_reason=c.finish_reason,
        endpoint=c.endpoint,
    )


class _EpisodeRun:
    """The state of one running episode; :meth:`run` drives it to an EpisodeRecord."""

    def __init__(
        self, config: ExploreConfig, spec: ApiSpec, episode: int, llm: Llm, tools: Tools,
        memory: MemoryShard,
    ):
        self.config = config
        self.spec = spec
        self.episode = episode
        self.llm = llm
        self.tools = tools
        self.memory = memory
        self.id = episode_id(spec.name, episode)
        self.api_names = (spec.name,)
        self.protocol = config.protocol
        verbatim = self.protocol.descriptions == "study"
        self.descriptions = prompts.api_block(
            [(spec.name, spec.prompt_description(verbatim=verbatim))])

    async def _ask(self, messages: list[Message], user: str, *, stop: str | None, trial: int,
                   step: int, grammar: str | None = None) -> Completion:
        c = self.config
        return await self.llm.complete(
            [*messages, {"role": "user", "content": user}],
            stop=stop,
            seed=request_seed(c.seed, self.spec.name, self.episode, trial, step),
            temperature=c.temperature,
            max_tokens=c.max_tokens,
            affinity=self.id,
            **({"extra": {c.llm.grammar_field: grammar}} if grammar else {}),
        )

    async def run(self) -> EpisodeRecord:
        started = time.monotonic()
        c = self.config
        conversations: list[list[Message]] = []
        messages: list[Message] = []
        trials: list[Trial] = []
        stopped: str | None = None
        for t in range(c.trials):
            fresh = t == 0 or not c.stm
            if fresh:
                messages = [{"role": "system", "content": prompts.SYSTEM}]
                conversations.append(messages)
            try:
                trial = await self._trial(t, messages, fresh)
            except RequestRejectedError as exc:
                stopped = f"LLM rejected a request in trial {t}: {exc}"
                break
            trials.append(trial)
            if trial.steps and trial.steps[-1].kind == "llm_error":
                stopped = trial.steps[-1].raw
                break
        return EpisodeRecord(
            schema=SCHEMA_VERSION,
            id=self.id,
            api=self.spec.name,
            episode=self.episode,
            trials=trials,
            conversations=conversations,
            stopped=stopped,
            elapsed_s=round(time.monotonic() - started, 6),
            finished_at=round(time.time(), 3),
        )

    async def _trial(self, t: int, messages: list[Message], fresh: bool) -> Trial:
        c = self.config
        imagine = prompts.imagine_first(self.descriptions) if fresh else prompts.imagine_next()
        shown = self.memory.snapshot() if c.ltm else []
        sent = prompts.with_memory(imagine, shown, labels=c.reflection)
        asked = await self._ask(messages, sent, stop=IMAGINE_STOP, trial=t, step=0,
                                grammar=_QUERY_GRAMMAR if c.constrain_actions else None)
        query = asked.text
        messages += [
            {"role": "user", "content": imagine},
            {"role": "assistant", "content": query},
        ]
        entry = self.memory.publish(query, self.episode, t)

        act = prompts.act_first(self.api_names, query) if fresh else prompts.ACT_NEXT
        steps = await self._act(t, messages, act)

        trial = Trial(
            index=t,
            query=query,
            memory_shown=len(shown),
            steps=steps,
            finished=bool(steps) and steps[-1].kind == "final",
            imagine=_stats(asked),
        )
        if c.reflection and not (steps and steps[-1].kind == "llm_error"):
            reply = await self._ask(messages, prompts.REFLECT, stop=ACT_STOP, trial=t,
                                    step=REFLECT_STEP,
                                    grammar=_REFLECT_GRAMMAR if c.constrain_actions else None)
            messages += [
                {"role": "user", "content": prompts.REFLECT},
                {"role": "assistant", "content": reply.text},
            ]
            trial.reflection = reply.text
            trial.solved = read_reflection(reply.text)
            trial.solved_reference = reference_reflection(reply.text)
            trial.reflect = _stats(reply)
            # both readings are recorded; the protocol says which one the memory shows
            entry.solved = (trial.solved_reference if self.protocol.reflection_reading == "study"
                            else trial.solved)
        return trial

    async def _act(self, t: int, messages: list[Message], prompt: str) -> list[Step]:
        """The ReAct loop: at most ``max_turn`` answered rounds, as the study runs it."""
        steps: list[Step] = []
        user = prompt
        for turn in range(self.config.max_turn + 1):
            try:
                grammar = (_step_grammar(self.api_names, turn == 0)
                           if self.config.constrain_actions else None)
                reply = await self._ask(messages, user, stop=ACT_STOP, trial=t, step=turn + 1,
                                        grammar=grammar)
            except RequestRejectedError as exc:
                steps.append(Step(raw=str(exc), kind="llm_error"))
                return steps
            messages += [
                {"role": "user", "content": user},
                {"role": "assistant", "content": reply.text},
            ]
            step = self._step(reply)
            steps.append(step)
            if step.kind == "final" or turn == self.config.max_turn:
                # a final answer ends the trial; past max_turn the last reply goes unanswered
                return steps
            if step.kind == "feedback":
                assert step.observation is not None
            else:
                # the study sends the rewritten text as it is and lets the tool decode it
                args: dict[str, Any] | str = (
                    step.action_input or "" if self.protocol.parse == "study"
                    else step.args or {})
                outcome = await self.tools.call(self.spec.name, args,
                                                context=f"{self.id}/{t}/{turn}")
                step.observation = render_observation(outcome, self.config.observation_max_chars)
                step.tool_status = outcome.status
                step.tool_kind = outcome.kind
                step.tool_attempts = outcome.attempts
                step.tool_latency_s = round(outcome.latency_s, 6)
            user = f"Observation: {step.observation}"
        return steps

    def _step(self, reply: Completion) -> Step:
        parsed = parse_react(reply.text, self.api_names, rule=self.protocol.parse)
        stats = _stats(reply)
        if isinstance(parsed, Final):
            return Step(raw=reply.text, kind="final", thought=parsed.thought,
                        final_answer=parsed.answer, llm=stats)
        if isinstance(parsed, Feedback):
            return Step(raw=reply.text, kind="feedback", feedback=parsed.reason,
                        observation=parsed.message, llm=stats)
        assert isinstance(parsed, Call)
        return Step(raw=reply.text, kind="call", thought=parsed.thought, action=parsed.action,
                    action_input=parsed.action_input, args=parsed.args, llm=stats)


async def run_episode(
    config: ExploreConfig, spec: ApiSpec, episode: int, llm: Llm, tools: Tools,
    memory: MemoryShard,
) -> EpisodeRecord:
    """Run episode number ``episode`` of ``spec`` and return its record."""
    return await _EpisodeRun(config, spec, episode, llm, tools, memory).run()
